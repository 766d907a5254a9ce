using Duplex.Handshake;

namespace Duplex.Client;

/// <summary>What the connect handlers are told about a new connection.</summary>
public sealed class WebSocketConnectedContext
{
    internal WebSocketConnectedContext(Uri uri, bool isReconnect, int attempt, WebSocketHandshakeResponse response)
    {
        Uri = uri;
        IsReconnect = isReconnect;
        Attempt = attempt;
        Response = response;
    }

    /// <summary>The server's URI (after redirects).</summary>
    public Uri Uri { get; }

    /// <summary>
    /// Whether this connection replaces a lost one: the place to authenticate and subscribe again.
    /// Messages sent from a connect handler go out before the outbox drains.
    /// </summary>
    public bool IsReconnect { get; }

    /// <summary>Which attempt succeeded (0 for the first connect, 1 for the first reconnect attempt…).</summary>
    public int Attempt { get; }

    /// <summary>What the server answered to the opening handshake.</summary>
    public WebSocketHandshakeResponse Response { get; }
}
