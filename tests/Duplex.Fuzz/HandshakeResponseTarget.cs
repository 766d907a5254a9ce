using System.Globalization;
using System.Net;
using System.Text;
using Duplex.Handshake;
using Duplex.Handshake.Rules;

namespace Duplex.Fuzz;

/// <summary>
/// <c>handshake-response</c>: the bytes a server answers an upgrade request with, into the strict
/// HTTP/1.1 head reader (<see cref="Http11ResponseHead"/>) and then the handshake's pure response
/// checks (<see cref="UpgradeResponseRules"/>: the 101 rules, subprotocol and extension negotiation,
/// redirects, <c>Retry-After</c>). The first input byte picks what was offered — bits 0–1 the
/// subprotocols, bit 2 an extension, bit 3 a secure request URI — and bits 4–7 seed the random
/// chunking; the rest is the response.
/// </summary>
/// <remarks>
/// The response is read as the socket transport reads it (1xx interim heads skipped), whole, byte
/// by byte and in seeded random chunks. Each read must scan each byte once, end in a head, an
/// "invalid HTTP" error or "incomplete", and agree with the others. The final head's checks may
/// fail only with <see cref="WebSocketConnectError.InvalidHandshake"/>.
/// </remarks>
internal static class HandshakeResponseTarget
{
    /// <summary>RFC 6455 §1.3: the accept value for the sample key.</summary>
    public const string Accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    private static readonly string[][] s_subProtocols = [[], ["chat"], ["chat", "superchat.v2"], ["CHAT", "x"]];
    private static readonly Uri s_plainUri = new("http://server.example/chat?room=1");
    private static readonly Uri s_secureUri = new("https://server.example:8443/chat");
    private static readonly DateTimeOffset s_now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        byte settings = input[0];
        byte[] response = input[1..];
        (string whole, Http11ResponseHead? head) = Read(response, Chunks.Whole(response.Length));
        (string byByte, _) = Read(response, Chunks.ByteByByte(response.Length));
        (string chunked, _) = Read(response, Chunks.Seeded(response.Length, (uint)(settings >> 4)));
        Invariant.Check(whole == byByte, $"whole and byte-by-byte reading differ:\n{whole}\n{byByte}");
        Invariant.Check(whole == chunked, $"whole and chunked reading differ:\n{whole}\n{chunked}");
        if (head is not null)
        {
            CheckHeaders(head);
            Judge(head, s_subProtocols[settings & 3], offerExtension: (settings & 4) != 0, (settings & 8) != 0 ? s_secureUri : s_plainUri);
        }
    }

    /// <summary>Reads heads the way the socket transport does; the verdict as text, and the final head.</summary>
    public static (string Verdict, Http11ResponseHead? Head) Read(byte[] response, IEnumerable<(int Start, int Length)> pieces)
    {
        var verdict = new StringBuilder();
        int headStart = 0;
        int scanned = 0;
        int lineStart = 0;
        int scans = 0;
        int heads = 0;
        int pieceCount = 0;
        foreach ((int start, int length) in pieces)
        {
            pieceCount++;
            ReadOnlySpan<byte> received = response.AsSpan(0, start + length);
            while (true)
            {
                int scannedBefore = scanned;
                int headLength = Http11ResponseHead.FindEnd(received[headStart..], ref scanned, ref lineStart, out string? error);

                // Bounded work: one scan per piece and per head found, each byte examined once.
                Invariant.Check(++scans <= pieceCount + heads, $"{scans} scans for {pieceCount} pieces and {heads} heads");
                Invariant.Check(scanned >= scannedBefore && headStart + scanned <= received.Length, $"scanned {scannedBefore} -> {scanned} of {received.Length - headStart}");
                Invariant.Check(lineStart >= 0 && lineStart <= scanned, $"line start {lineStart} past scanned {scanned}");
                if (error is not null)
                {
                    Invariant.Check(headLength == 0 && error.Length > 0, "an error with a head");
                    verdict.Append("invalid http: ").Append(error);
                    return (verdict.ToString(), null);
                }

                if (headLength == 0)
                {
                    break;
                }

                heads++;
                Invariant.Check(headLength == scanned, $"head of {headLength} bytes after scanning {scanned}");
                Http11ResponseHead? head = Http11ResponseHead.Parse(received.Slice(headStart, headLength), out error);
                headStart += headLength;
                if (head is null)
                {
                    Invariant.Check(!string.IsNullOrEmpty(error), "neither a head nor an error");
                    verdict.Append("invalid http: ").Append(error);
                    return (verdict.ToString(), null);
                }

                Invariant.Check(error is null, "both a head and an error");
                Invariant.Check(head.StatusCode is >= 100 and <= 999, $"status {head.StatusCode}");
                if (head.StatusCode is >= 100 and < 200 and not 101)
                {
                    verdict.Append(CultureInfo.InvariantCulture, $"interim {head.StatusCode}\n");
                    scanned = 0;
                    lineStart = 0;
                    continue;
                }

                verdict.Append(CultureInfo.InvariantCulture, $"HTTP/{head.Version} {head.StatusCode} [{head.ReasonPhrase}] then {headStart}\n");
                foreach (KeyValuePair<string, IReadOnlyList<string>> field in head.Headers)
                {
                    verdict.Append(field.Key).Append('=').AppendJoin('|', field.Value).Append('\n');
                }

                return (verdict.ToString(), head);
            }
        }

        verdict.Append("incomplete");
        return (verdict.ToString(), null);
    }

    /// <summary>The header dictionary agrees with itself: distinct keys, each found whatever its case.</summary>
    private static void CheckHeaders(Http11ResponseHead head)
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string key in head.Headers.Keys)
        {
            Invariant.Check(keys.Add(key), $"the header '{key}' is listed twice");
            Invariant.Check(head.Headers.TryGetValue(key.ToUpperInvariant(), out IReadOnlyList<string>? values) && values.Count > 0, $"the header '{key}' has no values");
        }

        Invariant.Check(keys.Count == head.Headers.Count, "Count differs from the keys");
    }

    /// <summary>What the handshake makes of the final head with its pure checks; only InvalidHandshake may come out.</summary>
    private static void Judge(Http11ResponseHead head, string[] subProtocols, bool offerExtension, Uri current)
    {
        try
        {
            if (head.StatusCode == 101)
            {
                UpgradeResponseRules.Validate(head.Headers, Accept);
                string? subProtocol = SubProtocolNegotiation.Negotiate(head.Headers, subProtocols);
                Invariant.Check(subProtocol is null || subProtocols.Contains(subProtocol), $"the subprotocol '{subProtocol}' was not offered");
                var offer = new TestOffer("x-test");
                string? extensions = ExtensionNegotiation.Negotiate(head.Headers, offerExtension ? [offer] : []);
                Invariant.Check(extensions is null || offerExtension, "an extension was accepted although none was offered");
                Invariant.Check(offer.Calls <= 1, "the extension was negotiated more than once");
                return;
            }

            if (RedirectRules.IsRedirect((HttpStatusCode)head.StatusCode))
            {
                Uri next = RedirectRules.Resolve(current, RedirectRules.GetLocation(head.Headers));
                Invariant.Check(next.IsAbsoluteUri && next.Scheme is "http" or "https", $"a redirect to the scheme '{next.Scheme}'");
                Invariant.Check(!WebSocketUriRules.IsSecure(current) || WebSocketUriRules.IsSecure(next), "a redirect left TLS");
                Invariant.Check(next.Fragment.Length == 0, "a redirect kept its fragment");
                WebSocketUriRules.IsSameOrigin(current, next);
                WebSocketUriRules.ToWebSocketUri(next);
                return;
            }

            TimeSpan? retryAfter = RetryAfter.GetDelay(head.Headers, s_now);
            Invariant.Check(retryAfter is null || retryAfter >= TimeSpan.Zero, $"a negative Retry-After of {retryAfter}");
        }
        catch (WebSocketConnectException exception) when (exception.Error == WebSocketConnectError.InvalidHandshake)
        {
            Invariant.Check(!string.IsNullOrEmpty(exception.Message), "an InvalidHandshake without a message");
        }
    }

    /// <summary>An extension offer that accepts any parameters but <c>bad</c>.</summary>
    private sealed class TestOffer(string name) : WebSocketExtensionOffer(name)
    {
        public int Calls { get; private set; }

        public override string OfferHeaderValue => Name;

        public override bool TryAccept(string negotiatedParameters, out string? error)
        {
            Calls++;
            error = negotiatedParameters.Contains("bad", StringComparison.Ordinal) ? "The parameter 'bad' is refused." : null;
            return error is null;
        }
    }
}
