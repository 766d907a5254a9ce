namespace Duplex.Client;

/// <summary>A change of <see cref="WebSocketClient.State"/>.</summary>
public sealed class WebSocketClientStateChangedEventArgs : EventArgs
{
    internal WebSocketClientStateChangedEventArgs(WebSocketClientState previous, WebSocketClientState current)
    {
        Previous = previous;
        Current = current;
    }

    /// <summary>The state before the change.</summary>
    public WebSocketClientState Previous { get; }

    /// <summary>The state after the change.</summary>
    public WebSocketClientState Current { get; }
}
