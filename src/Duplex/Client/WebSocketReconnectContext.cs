using System.Net.WebSockets;

namespace Duplex.Client;

/// <summary>What a reconnect decision is based on (see <see cref="WebSocketReconnectOptions.ShouldReconnect"/>).</summary>
public sealed class WebSocketReconnectContext
{
    internal WebSocketReconnectContext(Exception? exception, WebSocketCloseStatus? closeStatus, int attempt, TimeSpan elapsed, bool defaultDecision, bool isFirstConnect)
    {
        IsFirstConnect = isFirstConnect;
        Exception = exception;
        CloseStatus = closeStatus;
        Attempt = attempt;
        Elapsed = elapsed;
        DefaultDecision = defaultDecision;
    }

    /// <summary>
    /// The failure: a <see cref="WebSocketConnectException"/> (or <see cref="WebSocketHandshakeRejectedException"/>)
    /// for a failed attempt, the connection's error for a lost connection; null for a clean close by the server.
    /// </summary>
    public Exception? Exception { get; }

    /// <summary>The close code that ended the connection (the server's, ours for a violation, 1006 when lost), if any.</summary>
    public WebSocketCloseStatus? CloseStatus { get; }

    /// <summary>
    /// The number of the attempt about to be made (1 for the first reconnect after a loss, or for the
    /// first retry of a first connect).
    /// </summary>
    public int Attempt { get; }

    /// <summary>How long the client has been trying to reconnect (or, for a first connect, to connect).</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>
    /// Whether the failure is that of a first connect being retried
    /// (<see cref="WebSocketReconnectOptions.RetryFirstConnect"/>) rather than of a reconnect.
    /// </summary>
    public bool IsFirstConnect { get; }

    /// <summary>What the built-in rules decided.</summary>
    public bool DefaultDecision { get; }
}
