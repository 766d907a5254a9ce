namespace Duplex.Client;

/// <summary>Where a <see cref="WebSocketClient"/> is in its life cycle.</summary>
public enum WebSocketClientState
{
    /// <summary>Not connected: never connected yet, or closed by the application (reconnecting stopped).</summary>
    Closed,

    /// <summary>An opening handshake is in progress (the first connect or a reconnect).</summary>
    Connecting,

    /// <summary>Connected: messages flow both ways.</summary>
    Open,

    /// <summary>The application asked to close; the closing handshake is in progress.</summary>
    Closing,

    /// <summary>The connection was lost: waiting to reconnect, or given up when <see cref="WebSocketClient.IsReconnecting"/> is false.</summary>
    Disconnected,
}
