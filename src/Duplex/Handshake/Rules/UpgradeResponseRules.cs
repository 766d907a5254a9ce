namespace Duplex.Handshake.Rules;

/// <summary>What a 101 response to an HTTP/1.1 upgrade must carry (RFC 6455 §4.1, §4.2.2). No I/O.</summary>
internal static class UpgradeResponseRules
{
    /// <summary>
    /// RFC 6455 §4.2.2 / §4.1 (client steps 2–4): the 101 response must carry
    /// <c>Upgrade: websocket</c>, a <c>Connection</c> header with the <c>upgrade</c> token, and the
    /// <c>Sec-WebSocket-Accept</c> value computed from our key.
    /// </summary>
    /// <exception cref="WebSocketConnectException">With <see cref="WebSocketConnectError.InvalidHandshake"/> when a rule is broken.</exception>
    public static void Validate(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, string expectedAccept)
    {
        List<string> upgrade = HttpFieldSyntax.SplitList(HttpFieldSyntax.GetValues(headers, "Upgrade"));
        if (upgrade.Count != 1 || !upgrade[0].Equals(HandshakeHeaders.WebSocketToken, StringComparison.OrdinalIgnoreCase))
        {
            throw InvalidHandshake.Create("The server's 101 response does not carry 'Upgrade: websocket' (RFC 6455 §4.1).");
        }

        bool hasUpgradeToken = false;
        foreach (string token in HttpFieldSyntax.SplitList(HttpFieldSyntax.GetValues(headers, "Connection")))
        {
            hasUpgradeToken |= token.Equals("Upgrade", StringComparison.OrdinalIgnoreCase);
        }

        if (!hasUpgradeToken)
        {
            throw InvalidHandshake.Create("The server's 101 response does not carry the 'upgrade' token in its Connection header (RFC 6455 §4.1).");
        }

        IReadOnlyList<string> accept = HttpFieldSyntax.GetValues(headers, HandshakeHeaders.SecWebSocketAccept);
        if (accept.Count != 1 || !accept[0].Trim().Equals(expectedAccept, StringComparison.Ordinal))
        {
            throw InvalidHandshake.Create("The server's Sec-WebSocket-Accept value does not match the key that was sent (RFC 6455 §4.1).");
        }
    }
}
