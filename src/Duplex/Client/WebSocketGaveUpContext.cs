using System.Net.WebSockets;

namespace Duplex.Client;

/// <summary>What the give-up handlers are told when the client stops reconnecting by itself.</summary>
public sealed class WebSocketGaveUpContext
{
    internal WebSocketGaveUpContext(string reason, Exception? exception, WebSocketCloseStatus? closeStatus)
    {
        Reason = reason;
        Exception = exception;
        CloseStatus = closeStatus;
    }

    /// <summary>Why, in one sentence: reconnecting disabled, attempts or time used up, or an end that reconnecting cannot fix.</summary>
    public string Reason { get; }

    /// <summary>The last failure: the failed attempt (a rejected handshake, say) or how the connection was lost; null after a clean close.</summary>
    public Exception? Exception { get; }

    /// <summary>The close code that ended the last connection, when giving up followed it directly (no attempt failed since).</summary>
    public WebSocketCloseStatus? CloseStatus { get; }
}
