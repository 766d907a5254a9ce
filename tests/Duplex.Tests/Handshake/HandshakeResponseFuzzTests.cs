using System.Globalization;
using System.Net;
using System.Text;
using CsCheck;
using Duplex.Handshake;
using Duplex.Handshake.Rules;
using Duplex.Tests.Protocol;

namespace Duplex.Tests.Handshake;

/// <summary>
/// Arbitrary and mutated responses into the HTTP/1.1 head reader and the handshake's response
/// checks: whatever a server answers ends in a head, an "invalid HTTP" error or a typed
/// <see cref="WebSocketConnectError.InvalidHandshake"/>, never in another exception or unbounded
/// work, and never depends on how the bytes were cut into reads.
/// </summary>
public sealed class HandshakeResponseFuzzTests
{
    // RFC 6455 §1.3: the sample key's accept value.
    private const string Accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    private static readonly string[] s_offeredSubProtocols = ["chat", "superchat.v2"];
    private static readonly Uri s_current = new("http://server.example/chat");
    private static readonly DateTimeOffset s_now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static readonly Gen<string> s_token =
        Gen.Char["!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"].Array[1, 12].Select(c => new string(c));

    /// <summary>Optional whitespace (RFC 9110 §5.6.3) around a field value.</summary>
    private static readonly Gen<string> s_ows = Gen.OneOfConst("", "", " ", "\t", " \t ");

    /// <summary>Field-value characters (RFC 9110 §5.5): VCHAR, obs-text, and SP or HTAB inside.</summary>
    private static readonly Gen<string> s_fieldValue =
        Gen.Frequency((6, Gen.Char['!', '~']), (1, Gen.Char['\u0080', '\u00ff']), (1, Gen.OneOfConst(' ', '\t')))
            .Array[0, 30].Select(c => new string(c).Trim(' ', '\t'));

    /// <summary>
    /// The pieces responses are made of, valid and not: status lines, the names and values the
    /// checks look at, separators, and the bytes the reader refuses.
    /// </summary>
    private static readonly Gen<string> s_headPiece = Gen.OneOfConst(
        "HTTP/1.1 ", "HTTP/1.0 ", "HTTP/1.", "101", "100", "103", "200", "301", "302", "307", "426", "503", "000", " ", "\t", ":", ",", ";",
        "\r\n", "\r\n", "\r\n", "\r\n\r\n", "\r", "\n", "\0", "\u007f", "\u00e9", "\u001b", "=", "\"", "\\",
        "Upgrade", "websocket", "WebSocket", "Connection", "upgrade", "keep-alive", "Sec-WebSocket-Accept", Accept,
        "Sec-WebSocket-Protocol", "chat", "CHAT", "superchat.v2", "Sec-WebSocket-Extensions", "x-test", "x-other", "a=\"b,c\"", "bad",
        "Location", "ws://", "wss://", "http://", "ftp://", "//", "/", "?", "#", "[", "]", "::1", "%", "%zz", "..", "host", ":99999", "@",
        "Retry-After", "120", "99999999999999999999", "Sun, 01 Jun 2025 12:00:10 GMT", "Content-Length", "Transfer-Encoding", "chunked");

    /// <summary>Redirects whose Location is made of URI pieces: relative, absolute, other schemes, broken.</summary>
    private static readonly Gen<byte[]> s_redirect =
        from status in Gen.OneOfConst(301, 302, 303, 307, 308)
        from location in Gen.OneOfConst(
            "ws://", "wss://", "http://", "https://", "ftp://", "file:", "mailto:", "//", "/", "\\", "./", "../", "?", "#", "@", ":", "[", "]",
            "::1", "[::1]", "host.example", "xn--", "\u00e9", "%", "%2F", "%zz", ":0", ":443", ":99999", "a", "b/c", ";", "=", " ", "\t", "%00")
            .Array[0, 10].Select(string.Concat)
        from repeat in Gen.Frequency((6, Gen.Const(1)), (1, Gen.Int[0, 2]))
        select Encoding.Latin1.GetBytes(
            string.Create(CultureInfo.InvariantCulture, $"HTTP/1.1 {status} Moved\r\n") +
            string.Concat(Enumerable.Repeat($"Location: {location}\r\n", repeat)) +
            "\r\n");

    /// <summary>Heads a server could send by mistake or on purpose, possibly followed by frame bytes.</summary>
    private static readonly Gen<byte[]> s_arbitraryResponse = Gen.Frequency(
        (1, Gen.Byte.Array[0, 80]),
        (1, s_redirect),
        (3, s_headPiece.Array[1, 40].Select(pieces => Encoding.Latin1.GetBytes(string.Concat(pieces)))),
        (3, Mutations.Of(ValidHeads().Select(h => h.Bytes), maxLength: 4000)),
        (2, Mutations.Of(Valid101().Select(r => r.Bytes), maxLength: 4000)));

    [Fact]
    public void ResponseHead_ArbitraryBytes_EndInAHeadOrAnInvalidHttpOrAnInvalidHandshakeError()
    {
        s_arbitraryResponse.Sample(bytes =>
        {
            ResponseHeadTrace trace = ResponseHeadFeed.Run(bytes, Chunking.Whole);

            string last = trace.Events[^1];
            Assert.True(
                last.StartsWith("head ", StringComparison.Ordinal) || last.StartsWith("invalid http: ", StringComparison.Ordinal) || last == "incomplete",
                last);
            if (trace.Head is { } head)
            {
                AssertHeadersConsistent(head);
                Judge(head);
            }
        }, iter: 1500, print: Describe);
    }

    [Fact]
    public void ResponseHead_ArbitraryBytes_FinishWithinOneScanPerPieceAndHead()
    {
        // Bounded work as a step count: one scan per piece received, plus one per head found in
        // bytes already there; each scan examines each new byte once (ResponseHeadFeed checks).
        Gen.Select(s_arbitraryResponse, Chunking.Random).Sample((bytes, sizes) =>
        {
            foreach (int[] chunking in (int[][])[Chunking.Whole, Chunking.ByteByByte, sizes])
            {
                ResponseHeadTrace trace = ResponseHeadFeed.Run(bytes, chunking);

                Assert.True(
                    trace.FindEndCalls <= trace.Pieces + trace.Events.Count,
                    $"{trace.FindEndCalls} scans for {trace.Pieces} pieces and {trace.Events.Count} heads");
            }
        }, iter: 300, print: Describe);
    }

    [Fact]
    public void ResponseHead_ArbitraryBytes_SameVerdictWholeByteByByteAndInRandomChunks()
    {
        Gen.Select(s_arbitraryResponse, Chunking.Random).Sample((bytes, sizes) =>
        {
            ResponseHeadTrace whole = ResponseHeadFeed.Run(bytes, Chunking.Whole);
            ResponseHeadTrace byByte = ResponseHeadFeed.Run(bytes, Chunking.ByteByByte);
            ResponseHeadTrace chunked = ResponseHeadFeed.Run(bytes, sizes);

            Assert.Equal(whole.Events, byByte.Events);
            Assert.Equal(whole.Events, chunked.Events);
            Assert.Equal(whole.HeadEnd, byByte.HeadEnd);
            Assert.Equal(whole.HeadEnd, chunked.HeadEnd);
            if (whole.Head is not null)
            {
                Assert.Equal(Judge(whole.Head), Judge(chunked.Head!));
            }
        }, iter: 400, print: Describe);
    }

    [Fact]
    public void ResponseHead_GeneratedHead_ParsesBackToItsVersionStatusReasonAndFields()
    {
        Gen.Select(ValidHeads(), Chunking.Random).Sample((generated, sizes) =>
        {
            ResponseHeadTrace trace = ResponseHeadFeed.Run(generated.Bytes, sizes);

            Http11ResponseHead head = trace.Head ?? throw new InvalidOperationException(trace.ToString());
            Assert.Equal(generated.Bytes.Length, trace.HeadEnd);
            Assert.Equal(generated.Version, head.Version);
            Assert.Equal(generated.Status, head.StatusCode);
            Assert.Equal(generated.Reason, head.ReasonPhrase);
            ILookup<string, string> expected = generated.Fields.ToLookup(f => f.Name, f => f.Value, StringComparer.OrdinalIgnoreCase);
            Assert.Equal(expected.Count, head.Headers.Count);
            foreach (IGrouping<string, string> field in expected)
            {
                Assert.Equal(field.ToArray(), head.Headers[field.Key]);
            }
        }, iter: 500, print: g => $"{g.Item1}; chunks [{string.Join(", ", g.Item2)}]");
    }

    [Fact]
    public void Validation_GeneratedValid101_OpensWithTheOfferedSubprotocolAndExtension()
    {
        Valid101().Sample(response =>
        {
            ResponseHeadTrace trace = ResponseHeadFeed.Run(response.Bytes, Chunking.Whole);

            Http11ResponseHead head = trace.Head ?? throw new InvalidOperationException(trace.ToString());
            Assert.Equal($"open [{response.SubProtocol}] [{response.Extensions}]", Judge(head));
        }, iter: 500);
    }

    [Theory]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\n\r\n", "redirect http://server.example/elsewhere")]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: next?x=1\r\n\r\n", "redirect http://server.example/next?x=1")]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: //other.example/\r\n\r\n", "redirect http://other.example/")]
    [InlineData("HTTP/1.1 302 Found\r\nLocation: wss://other.example:8443/a#f\r\n\r\n", "redirect https://other.example:8443/a")]
    public void Judge_RelativeAndAbsoluteLocations_ResolveAgainstTheRequestUri(string response, string expected)
    {
        ResponseHeadTrace trace = ResponseHeadFeed.Run(Encoding.Latin1.GetBytes(response), Chunking.ByteByByte);

        Assert.Equal(expected, Judge(trace.Head!));
    }

    /// <summary>
    /// What the handshake makes of a final head with the pure checks alone: opened, redirected or
    /// rejected, or the typed error. Any other exception escapes and fails the test.
    /// </summary>
    private static string Judge(Http11ResponseHead head)
    {
        try
        {
            if (head.StatusCode == 101)
            {
                UpgradeResponseRules.Validate(head.Headers, Accept);
                string? subProtocol = SubProtocolNegotiation.Negotiate(head.Headers, s_offeredSubProtocols);
                string? extensions = ExtensionNegotiation.Negotiate(head.Headers, [new TestOffer("x-test")]);
                return $"open [{subProtocol}] [{extensions}]";
            }

            if (RedirectRules.IsRedirect((HttpStatusCode)head.StatusCode))
            {
                return "redirect " + RedirectRules.Resolve(s_current, RedirectRules.GetLocation(head.Headers)).AbsoluteUri;
            }

            TimeSpan? retryAfter = RetryAfter.GetDelay(head.Headers, s_now);
            Assert.True(retryAfter is null || retryAfter >= TimeSpan.Zero, $"Retry-After {retryAfter}");
            return string.Create(CultureInfo.InvariantCulture, $"rejected {head.StatusCode} retry after {retryAfter}");
        }
        catch (WebSocketConnectException exception) when (exception.Error == WebSocketConnectError.InvalidHandshake)
        {
            Assert.False(string.IsNullOrEmpty(exception.Message));
            return "invalid handshake: " + exception.Message;
        }
    }

    private static void AssertHeadersConsistent(Http11ResponseHead head)
    {
        List<string> keys = [.. head.Headers.Keys];
        Assert.Equal(keys.Count, head.Headers.Count);
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        foreach (string key in keys)
        {
            Assert.True(head.Headers.ContainsKey(key.ToUpperInvariant()));
            Assert.NotEmpty(head.Headers[key]);
        }
    }

    /// <summary>Valid heads of any version, status and reason, with fields around which OWS varies.</summary>
    private static Gen<GeneratedHead> ValidHeads() =>
        from version in Gen.OneOfConst(HttpVersion.Version10, HttpVersion.Version11)
        from status in Gen.Frequency((4, Gen.Int[200, 599]), (1, Gen.OneOfConst(101, 301, 302, 307, 308)))
        from reason in Gen.Frequency(
            (1, Gen.Const((string?)null)),
            (4, Gen.Frequency((8, Gen.Char['!', '~']), (1, Gen.Char['\u0080', '\u00ff']), (2, Gen.OneOfConst(' ', '\t')))
                .Array[1, 30].Select(c => (string?)new string(c))))
        from emptyReasonSpace in Gen.Bool
        from fields in Gen.Select(s_token, s_ows, s_fieldValue, s_ows).Array[0, 10]
        select Head(version, status, reason, emptyReasonSpace, fields);

    private static GeneratedHead Head(Version version, int status, string? reason, bool emptyReasonSpace, (string Name, string Before, string Value, string After)[] fields)
    {
        var text = new StringBuilder(string.Create(CultureInfo.InvariantCulture, $"HTTP/{version.Major}.{version.Minor} {status}"));
        if (reason is not null || emptyReasonSpace)
        {
            // RFC 9112 §4: the SP before the reason stays even when the reason is empty.
            text.Append(' ').Append(reason);
        }

        text.Append("\r\n");
        foreach ((string name, string before, string value, string after) in fields)
        {
            text.Append(name).Append(':').Append(before).Append(value).Append(after).Append("\r\n");
        }

        text.Append("\r\n");
        return new GeneratedHead(Encoding.Latin1.GetBytes(text.ToString()), version, status, reason, [.. fields.Select(f => (f.Name, f.Value))]);
    }

    /// <summary>
    /// Valid 101 responses: the required fields in any case, as lists with other elements or split
    /// over several lines, in any order with other fields, an offered subprotocol or none, the
    /// offered extension or none.
    /// </summary>
    private static Gen<Generated101> Valid101() =>
        from upgrade in Gen.OneOfConst("websocket", "WebSocket", "WEBSOCKET", "websocket,", ", websocket")
        from connection in Gen.OneOfConst<string[]>(["Upgrade"], ["upgrade"], ["keep-alive, Upgrade"], ["keep-alive", "UPGRADE"], ["Upgrade, close"])
        from subProtocol in Gen.OneOfConst<string?>(null, "chat", "CHAT", "superchat.v2", "SuperChat.V2")
        from extension in Gen.OneOfConst<string?>(null, "x-test", "X-Test; a=1", "x-test; a=\"b,c\"; flag")
        from others in Gen.Select(s_token.Where(IsUnchecked), s_fieldValue).Array[0, 6]
        from order in Gen.Int.Array[16]
        from ows in s_ows.Array[16]
        select Response101(upgrade, connection, subProtocol, extension, others, order, ows);

    private static bool IsUnchecked(string name) =>
        !name.StartsWith("Sec-WebSocket-", StringComparison.OrdinalIgnoreCase) &&
        !name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase) &&
        !name.Equals("Connection", StringComparison.OrdinalIgnoreCase);

    private static Generated101 Response101(
        string upgrade, string[] connection, string? subProtocol, string? extension, (string Name, string Value)[] others, int[] order, string[] ows)
    {
        var fields = new List<(string, string)> { ("Upgrade", upgrade), ("Sec-WebSocket-Accept", Accept) };
        fields.AddRange(connection.Select(c => ("Connection", c)));
        if (subProtocol is not null)
        {
            fields.Add(("Sec-WebSocket-Protocol", subProtocol));
        }

        if (extension is not null)
        {
            fields.Add(("Sec-WebSocket-Extensions", extension));
        }

        fields.AddRange(others);

        // Shuffle, keeping repeated fields (two Connection lines) in their relative order.
        var shuffled = fields.Select((f, i) => (Field: f, Key: order[i % order.Length])).OrderBy(f => f.Key).Select(f => f.Field).ToList();
        var text = new StringBuilder("HTTP/1.1 101 Switching Protocols\r\n");
        for (int i = 0; i < shuffled.Count; i++)
        {
            text.Append(shuffled[i].Item1).Append(':').Append(ows[i % ows.Length]).Append(shuffled[i].Item2).Append(ows[(i + 1) % ows.Length]).Append("\r\n");
        }

        text.Append("\r\n");
        string? expectedSubProtocol = subProtocol is null ? null : s_offeredSubProtocols.Single(s => s.Equals(subProtocol, StringComparison.OrdinalIgnoreCase));
        return new Generated101(Encoding.Latin1.GetBytes(text.ToString()), expectedSubProtocol, extension);
    }

    private static string Describe(byte[] bytes) => $"{bytes.Length} bytes: {Printable(bytes)}";

    private static string Describe((byte[] Bytes, int[] Sizes) c) => $"{Describe(c.Bytes)}; chunks [{string.Join(", ", c.Sizes)}]";

    private static string Printable(byte[] bytes) =>
        string.Concat(bytes.Take(600).Select(b => b is >= 0x20 and < 0x7f and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}"));

    private sealed record GeneratedHead(byte[] Bytes, Version Version, int Status, string? Reason, (string Name, string Value)[] Fields)
    {
        public override string ToString() => Printable(Bytes);
    }

    private sealed record Generated101(byte[] Bytes, string? SubProtocol, string? Extensions)
    {
        public override string ToString() => Printable(Bytes);
    }

    /// <summary>An extension offer that accepts any parameters but <c>bad</c>.</summary>
    private sealed class TestOffer(string name) : WebSocketExtensionOffer(name)
    {
        public override string OfferHeaderValue => Name;

        public override bool TryAccept(string negotiatedParameters, out string? error)
        {
            error = negotiatedParameters.Contains("bad", StringComparison.Ordinal) ? "The parameter 'bad' is refused." : null;
            return error is null;
        }
    }
}
