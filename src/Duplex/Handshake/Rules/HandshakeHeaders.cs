namespace Duplex.Handshake.Rules;

/// <summary>
/// The headers the opening handshake sends itself (RFC 6455 §4.1, §11.3; RFC 8441 §4): their names,
/// their fixed values, and the list a request carries. No I/O.
/// </summary>
internal static class HandshakeHeaders
{
    /// <summary>RFC 6455 §4.1: the only protocol version this client speaks.</summary>
    public const string Version = "13";

    /// <summary>The <c>Upgrade</c> token and the RFC 8441 <c>:protocol</c> value.</summary>
    public const string WebSocketToken = "websocket";

    public const string SecWebSocketKey = "Sec-WebSocket-Key";
    public const string SecWebSocketAccept = "Sec-WebSocket-Accept";
    public const string SecWebSocketVersion = "Sec-WebSocket-Version";
    public const string SecWebSocketProtocol = "Sec-WebSocket-Protocol";
    public const string SecWebSocketExtensions = "Sec-WebSocket-Extensions";

    /// <summary>
    /// The request headers the handshake itself sends, in order. With a key, those of an HTTP/1.1
    /// upgrade (RFC 6455 §4.1: <c>Connection</c>, <c>Upgrade</c>, <c>Sec-WebSocket-Key</c>); without,
    /// those of an HTTP/2 extended CONNECT (RFC 8441 §4), which has none of the three. Then, for both,
    /// the version and the offered subprotocols and extensions.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string>> Get(
        string? key, IList<string> subProtocols, IList<WebSocketExtensionOffer> offers)
    {
        if (key is not null)
        {
            yield return new("Connection", "Upgrade");
            yield return new("Upgrade", WebSocketToken);
            yield return new(SecWebSocketKey, key);
        }

        yield return new(SecWebSocketVersion, Version);
        if (subProtocols.Count > 0)
        {
            yield return new(SecWebSocketProtocol, string.Join(", ", subProtocols));
        }

        if (offers.Count > 0)
        {
            var values = new string[offers.Count];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = offers[i].OfferHeaderValue.Trim();
            }

            yield return new(SecWebSocketExtensions, string.Join(", ", values));
        }
    }
}
