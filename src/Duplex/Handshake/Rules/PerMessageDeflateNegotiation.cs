using System.Text;

namespace Duplex.Handshake.Rules;

/// <summary>
/// The permessage-deflate rules of RFC 7692 §7.1 for a client: the offer it sends and a strict
/// reading of the server's answer. Pure: strings in, parameters or an error sentence out.
/// </summary>
/// <remarks>
/// <see cref="System.IO.Compression.DeflateStream"/> compresses with a 15-bit window only, so the
/// client never agrees to a smaller window of its own; it inflates any window from 8 to 15 bits.
/// </remarks>
internal static class PerMessageDeflateNegotiation
{
    /// <summary>The registered extension name (RFC 7692 §7).</summary>
    public const string ExtensionName = "permessage-deflate";

    public const string ClientNoContextTakeover = "client_no_context_takeover";
    public const string ServerNoContextTakeover = "server_no_context_takeover";
    public const string ClientMaxWindowBits = "client_max_window_bits";
    public const string ServerMaxWindowBits = "server_max_window_bits";

    /// <summary>The smallest and largest LZ77 window sizes (RFC 7692 §7.1.2.1).</summary>
    public const int MinWindowBits = 8;

    /// <inheritdoc cref="MinWindowBits"/>
    public const int MaxWindowBits = 15;

    /// <summary>
    /// The offers, most preferred first (RFC 7692 §5: several offers of the extension in one header).
    /// When the first asks something of the server (a window or no context takeover), a plain offer
    /// follows, so a server that declines those parameters can still accept compression.
    /// </summary>
    public static IReadOnlyList<PerMessageDeflateRequest> Offers(PerMessageDeflateRequest request)
    {
        if (request.ServerMaxWindowBits is null && !request.ServerNoContextTakeover)
        {
            return [request];
        }

        return [request, request with { ServerMaxWindowBits = null, ServerNoContextTakeover = false }];
    }

    /// <summary>One offer as it goes into <c>Sec-WebSocket-Extensions</c>.</summary>
    public static string Format(PerMessageDeflateRequest request)
    {
        var builder = new StringBuilder(ExtensionName);
        if (request.ClientNoContextTakeover)
        {
            builder.Append("; ").Append(ClientNoContextTakeover);
        }

        if (request.ServerNoContextTakeover)
        {
            builder.Append("; ").Append(ServerNoContextTakeover);
        }

        if (request.ServerMaxWindowBits is { } bits)
        {
            builder.Append("; ").Append(ServerMaxWindowBits).Append('=').Append(bits);
        }

        if (request.OfferClientMaxWindowBits)
        {
            // RFC 7692 §7.1.2.2: without a value, it only says the client supports the parameter.
            builder.Append("; ").Append(ClientMaxWindowBits);
        }

        return builder.ToString();
    }

    /// <summary>The whole header value for <paramref name="offers"/>, comma-separated.</summary>
    public static string Format(IReadOnlyList<PerMessageDeflateRequest> offers)
    {
        var parts = new string[offers.Count];
        for (int i = 0; i < offers.Count; i++)
        {
            parts[i] = Format(offers[i]);
        }

        return string.Join(", ", parts);
    }

    /// <summary>
    /// Reads the parameters of the server's permessage-deflate answer (everything after the name) and
    /// checks them against the offers: false, with one sentence in <paramref name="error"/>, when a
    /// parameter is unknown, repeated, malformed, or accepts what no offer asked for.
    /// </summary>
    public static bool TryAccept(string parameters, IReadOnlyList<PerMessageDeflateRequest> offers, out PerMessageDeflateParameters agreed, out string? error)
    {
        agreed = default;
        if (!TryParse(parameters, out Answer answer, out error))
        {
            return false;
        }

        // RFC 7692 §7.1.2.2: a client that did not offer client_max_window_bits must not get it; one that
        // did can only use the 15-bit window DeflateStream compresses with.
        if (answer.ClientMaxWindowBits is { } clientBits)
        {
            bool offered = false;
            foreach (PerMessageDeflateRequest offer in offers)
            {
                offered |= offer.OfferClientMaxWindowBits;
            }

            if (!offered)
            {
                error = "The server answered permessage-deflate with client_max_window_bits, which was not offered (RFC 7692 §7.1.2.2).";
                return false;
            }

            if (clientBits < MaxWindowBits)
            {
                error = $"The server asked for client_max_window_bits={clientBits}; this client compresses with a 15-bit window only, so it cannot honour a smaller one (RFC 7692 §7.1.2.2).";
                return false;
            }
        }

        // RFC 7692 §7.1.2.1: an offer of server_max_window_bits=N is accepted only with a value of at
        // most N; the first offer the answer fits is the one accepted.
        foreach (PerMessageDeflateRequest offer in offers)
        {
            if (offer.ServerMaxWindowBits is { } offeredBits &&
                (answer.ServerMaxWindowBits is not { } answeredBits || answeredBits > offeredBits))
            {
                continue;
            }

            agreed = new PerMessageDeflateParameters(
                // RFC 7692 §7.1.1.2: the server may ask for client_no_context_takeover unasked; a client
                // that offered it keeps its promise either way.
                ClientNoContextTakeover: answer.ClientNoContextTakeover || offer.ClientNoContextTakeover,
                // RFC 7692 §7.1.1.1: the server may add server_no_context_takeover unasked.
                ServerNoContextTakeover: answer.ServerNoContextTakeover,
                ServerMaxWindowBits: answer.ServerMaxWindowBits ?? MaxWindowBits,
                ClientMaxWindowBits: MaxWindowBits);
            return true;
        }

        error = answer.ServerMaxWindowBits is { } bits
            ? $"The server answered permessage-deflate with server_max_window_bits={bits}, larger than offered (RFC 7692 §7.1.2.1)."
            : "The server answered permessage-deflate without the server_max_window_bits that was offered (RFC 7692 §7.1.2.1).";
        return false;
    }

    /// <summary>The parameters of one answer, each at most once, values checked (RFC 7692 §7.1).</summary>
    private static bool TryParse(string parameters, out Answer answer, out string? error)
    {
        answer = default;
        error = null;
        if (parameters.Length == 0)
        {
            return true;
        }

        foreach (string raw in parameters.Split(';'))
        {
            string parameter = raw.Trim();
            int equals = parameter.IndexOf('=', StringComparison.Ordinal);
            string name = (equals < 0 ? parameter : parameter[..equals]).Trim();
            string? value = equals < 0 ? null : Unquote(parameter[(equals + 1)..].Trim());
            if (!HttpFieldSyntax.IsToken(name))
            {
                error = "The server's permessage-deflate answer has a malformed parameter (RFC 7692 §7.1).";
                return false;
            }

            bool duplicate;
            switch (name.ToLowerInvariant())
            {
                case ServerNoContextTakeover:
                    duplicate = answer.ServerNoContextTakeover;
                    answer.ServerNoContextTakeover = true;
                    break;
                case ClientNoContextTakeover:
                    duplicate = answer.ClientNoContextTakeover;
                    answer.ClientNoContextTakeover = true;
                    break;
                case ServerMaxWindowBits:
                    duplicate = answer.ServerMaxWindowBits is not null;
                    answer.ServerMaxWindowBits = ParseWindowBits(value);
                    if (answer.ServerMaxWindowBits is null && !duplicate)
                    {
                        error = "The server's permessage-deflate answer has a server_max_window_bits that is not a number from 8 to 15 (RFC 7692 §7.1.2.1).";
                        return false;
                    }

                    break;
                case ClientMaxWindowBits:
                    duplicate = answer.ClientMaxWindowBits is not null;
                    answer.ClientMaxWindowBits = ParseWindowBits(value);
                    if (answer.ClientMaxWindowBits is null && !duplicate)
                    {
                        // RFC 7692 §7.1.2.2: in a response the parameter must have a value.
                        error = "The server's permessage-deflate answer has a client_max_window_bits that is not a number from 8 to 15 (RFC 7692 §7.1.2.2).";
                        return false;
                    }

                    break;
                default:
                    error = $"The server's permessage-deflate answer has the unknown parameter {HttpFieldSyntax.Quote(name)} (RFC 7692 §7.1).";
                    return false;
            }

            if (duplicate)
            {
                error = $"The server's permessage-deflate answer has the parameter {HttpFieldSyntax.Quote(name)} more than once (RFC 7692 §7.1).";
                return false;
            }

            if (value is not null && name.EndsWith("_no_context_takeover", StringComparison.OrdinalIgnoreCase))
            {
                error = $"The server's permessage-deflate answer gives {HttpFieldSyntax.Quote(name)} a value; it takes none (RFC 7692 §7.1.1).";
                return false;
            }
        }

        return true;
    }

    /// <summary>RFC 7692 §7.1.2: 1*DIGIT, a decimal from 8 to 15 without leading zeros; null otherwise.</summary>
    private static int? ParseWindowBits(string? value)
    {
        if (value is null || value.Length is 0 or > 2 || value[0] == '0')
        {
            return null;
        }

        int bits = 0;
        foreach (char c in value)
        {
            if (c is < '0' or > '9')
            {
                return null;
            }

            bits = (bits * 10) + (c - '0');
        }

        return bits is >= MinWindowBits and <= MaxWindowBits ? bits : null;
    }

    /// <summary>RFC 7692 §7.1: a value may be sent as a quoted-string; its content must then be a token.</summary>
    private static string Unquote(string value)
    {
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
        {
            return value[1..^1].Replace("\\", string.Empty, StringComparison.Ordinal);
        }

        return value;
    }

    private record struct Answer(bool ServerNoContextTakeover, bool ClientNoContextTakeover, int? ServerMaxWindowBits, int? ClientMaxWindowBits);
}
