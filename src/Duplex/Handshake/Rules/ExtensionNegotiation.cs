namespace Duplex.Handshake.Rules;

/// <summary>
/// Extensions: what the client may offer in <c>Sec-WebSocket-Extensions</c>, and what the server's
/// answer must be (RFC 6455 §4.1, §9.1). No I/O.
/// </summary>
internal static class ExtensionNegotiation
{
    /// <summary>Each offer present, its name a token and unique, its header value free of CR, LF and NUL.</summary>
    /// <exception cref="ArgumentException">An offer is invalid.</exception>
    public static void ValidateOffers(IList<WebSocketExtensionOffer> offers)
    {
        const string ParamName = nameof(WebSocketHandshakeOptions.ExtensionOffers);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (WebSocketExtensionOffer offer in offers)
        {
            if (offer is null)
            {
                throw new ArgumentException("An extension offer must not be null.", ParamName);
            }

            if (!HttpFieldSyntax.IsToken(offer.Name) || !seen.Add(offer.Name))
            {
                throw new ArgumentException($"The extension '{HttpFieldSyntax.Printable(offer.Name)}' is not a valid token or is offered more than once.", ParamName);
            }

            string value = offer.OfferHeaderValue;
            if (string.IsNullOrWhiteSpace(value) ||
                value.AsSpan().ContainsAny(RequestHeaderRules.ForbiddenValueChars) ||
                !value.AsSpan().TrimStart().StartsWith(offer.Name, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"The offer for the extension '{offer.Name}' must start with its name and not contain CR, LF or NUL.", ParamName);
            }
        }
    }

    /// <summary>
    /// RFC 6455 §4.1 (client step 5) and §9.1: every extension in the response must have been offered,
    /// at most once, and its offer must accept the parameters. Returns the negotiated header value,
    /// or <see langword="null"/> when the server named no extension.
    /// </summary>
    /// <exception cref="WebSocketConnectException">With <see cref="WebSocketConnectError.InvalidHandshake"/> when a rule is broken.</exception>
    public static string? Negotiate(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, IList<WebSocketExtensionOffer> offers)
    {
        List<string> elements = HttpFieldSyntax.SplitList(HttpFieldSyntax.GetValues(headers, HandshakeHeaders.SecWebSocketExtensions));
        if (elements.Count == 0)
        {
            return null;
        }

        var accepted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string element in elements)
        {
            int semicolon = element.IndexOf(';', StringComparison.Ordinal);
            string name = (semicolon < 0 ? element : element[..semicolon]).Trim();
            string parameters = semicolon < 0 ? string.Empty : element[(semicolon + 1)..].Trim();

            WebSocketExtensionOffer? offer = null;
            foreach (WebSocketExtensionOffer candidate in offers)
            {
                if (candidate.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    offer = candidate;
                    break;
                }
            }

            if (offer is null)
            {
                throw InvalidHandshake.Create(offers.Count == 0
                    ? $"The server answered with the extension {HttpFieldSyntax.Quote(name)} although none was offered (RFC 6455 §9.1)."
                    : $"The server answered with the extension {HttpFieldSyntax.Quote(name)}, which was not offered (RFC 6455 §9.1).");
            }

            if (!accepted.Add(offer.Name))
            {
                throw InvalidHandshake.Create($"The server answered with the extension '{offer.Name}' more than once (RFC 6455 §9.1).");
            }

            if (!offer.TryAccept(parameters, out string? error))
            {
                throw InvalidHandshake.Create(error ?? $"The server's parameters for the extension '{offer.Name}' are not acceptable.");
            }
        }

        return string.Join(", ", elements);
    }
}
