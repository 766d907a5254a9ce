using System.Net.WebSockets;

namespace Duplex.Client;

/// <summary>What the disconnect handlers are told about a connection that ended.</summary>
public sealed class WebSocketDisconnectedContext
{
    internal WebSocketDisconnectedContext(WebSocketCloseStatus? closeStatus, string? closeStatusDescription, Exception? exception, bool closedByApplication, bool willReconnect, TimeSpan? reconnectDelay)
    {
        CloseStatus = closeStatus;
        CloseStatusDescription = closeStatusDescription;
        Exception = exception;
        ClosedByApplication = closedByApplication;
        WillReconnect = willReconnect;
        ReconnectDelay = reconnectDelay;
    }

    /// <summary>The close code that ended the connection (1006 when it was lost without one), if any.</summary>
    public WebSocketCloseStatus? CloseStatus { get; }

    /// <summary>The reason that goes with <see cref="CloseStatus"/>.</summary>
    public string? CloseStatusDescription { get; }

    /// <summary>The cause when the connection did not close cleanly (lost, protocol violation, keepalive or silence timeout).</summary>
    public Exception? Exception { get; }

    /// <summary>Whether the application closed it (<see cref="WebSocketClient.CloseAsync(WebSocketCloseStatus, string?, CancellationToken)"/>).</summary>
    public bool ClosedByApplication { get; }

    /// <summary>Whether the client will try to reconnect.</summary>
    public bool WillReconnect { get; }

    /// <summary>How long the client waits before the next attempt, when it will reconnect.</summary>
    public TimeSpan? ReconnectDelay { get; }
}
