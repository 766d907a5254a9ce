namespace Duplex.Handshake.Rules;

/// <summary>
/// Subprotocols: what the client may offer in <c>Sec-WebSocket-Protocol</c>, and what the server's
/// answer must be (RFC 6455 §4.1, §4.2.2). No I/O.
/// </summary>
internal static class SubProtocolNegotiation
{
    /// <summary>RFC 6455 §4.1: each subprotocol a non-empty token, each offered once.</summary>
    /// <exception cref="ArgumentException">A subprotocol is invalid or repeated.</exception>
    public static void ValidateOffer(IList<string> subProtocols)
    {
        const string ParamName = nameof(WebSocketHandshakeOptions.SubProtocols);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string subProtocol in subProtocols)
        {
            if (subProtocol is null || !HttpFieldSyntax.IsToken(subProtocol))
            {
                throw new ArgumentException(
                    $"The subprotocol '{HttpFieldSyntax.Printable(subProtocol ?? string.Empty)}' is not a valid HTTP token (RFC 6455 §4.1).",
                    ParamName);
            }

            if (!seen.Add(subProtocol))
            {
                throw new ArgumentException($"The subprotocol '{subProtocol}' is offered more than once (RFC 6455 §4.1).", ParamName);
            }
        }
    }

    /// <summary>
    /// RFC 6455 §4.1 (client step 6): the subprotocol the server selected, spelled as we offered it,
    /// or <see langword="null"/> when it selected none.
    /// </summary>
    /// <exception cref="WebSocketConnectException">With <see cref="WebSocketConnectError.InvalidHandshake"/> when the server selected one that was not offered, or several.</exception>
    public static string? Negotiate(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, IList<string> offered)
    {
        List<string> selected = HttpFieldSyntax.SplitList(HttpFieldSyntax.GetValues(headers, HandshakeHeaders.SecWebSocketProtocol));
        if (selected.Count == 0)
        {
            return null;
        }

        if (selected.Count > 1)
        {
            throw InvalidHandshake.Create("The server selected more than one subprotocol (RFC 6455 §4.2.2).");
        }

        if (offered.Count == 0)
        {
            throw InvalidHandshake.Create($"The server selected the subprotocol {HttpFieldSyntax.Quote(selected[0])} although none was offered (RFC 6455 §4.1).");
        }

        foreach (string candidate in offered)
        {
            if (candidate.Equals(selected[0], StringComparison.OrdinalIgnoreCase))
            {
                return candidate;
            }
        }

        throw InvalidHandshake.Create($"The server selected the subprotocol {HttpFieldSyntax.Quote(selected[0])}, which was not offered (RFC 6455 §4.1).");
    }
}
