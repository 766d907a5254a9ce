using System.Net;
using System.Net.Http;
using Duplex.Handshake;
using Duplex.Handshake.Rules;
using Duplex.Handshake.Transports;

namespace Duplex.Tests.Handshake;

public sealed class WebSocketHandshakeTests
{
    [Fact]
    public void ComputeAccept_Rfc6455SampleKey_GivesTheSampleAccept()
    {
        // RFC 6455 §1.3
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketKey.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    [Fact]
    public void ComputeAccept_AgreesWithIndependentImplementation()
    {
        for (int i = 0; i < 20; i++)
        {
            string key = WebSocketKey.Create();
            Assert.Equal(Infrastructure.WebSocketAcceptKey.Compute(key), WebSocketKey.ComputeAccept(key));
        }
    }

    [Fact]
    public void CreateKey_IsBase64Of16RandomBytes_AndDiffersEachTime()
    {
        var keys = new HashSet<string>();
        for (int i = 0; i < 100; i++)
        {
            string key = WebSocketKey.Create();
            Assert.Equal(24, key.Length);
            Assert.Equal(16, Convert.FromBase64String(key).Length);
            Assert.True(keys.Add(key));
        }
    }

    [Theory]
    [InlineData("ws://example.com/chat", "http://example.com/chat")]
    [InlineData("wss://example.com/chat?x=1", "https://example.com/chat?x=1")]
    [InlineData("WS://Example.COM:8080/a/b", "http://example.com:8080/a/b")]
    [InlineData("ws://example.com:80/", "http://example.com/")]
    [InlineData("wss://example.com:443/", "https://example.com/")]
    [InlineData("wss://example.com:80/", "https://example.com:80/")]
    [InlineData("http://example.com/x", "http://example.com/x")]
    [InlineData("https://example.com/x", "https://example.com/x")]
    [InlineData("ws://[::1]:9001/", "http://[::1]:9001/")]
    [InlineData("wss://[2001:db8::1]/p?q=%20", "https://[2001:db8::1]/p?q=%20")]
    [InlineData("ws://127.0.0.1:1234", "http://127.0.0.1:1234/")]
    [InlineData("ws://user:secret@example.com/", "http://example.com/")]
    public void ToHttpUri_MapsWebSocketSchemesAndKeepsHostPortPathQuery(string input, string expected)
    {
        Uri result = WebSocketUriRules.ToHttpUri(new Uri(input));

        Assert.Equal(expected, result.AbsoluteUri);
    }

    [Fact]
    public void ToHttpUri_Ipv6Literal_KeepsBracketsAndPort()
    {
        Uri result = WebSocketUriRules.ToHttpUri(new Uri("ws://[::1]:5000/socket"));

        Assert.Equal(UriHostNameType.IPv6, result.HostNameType);
        Assert.Equal("[::1]", result.Host);
        Assert.Equal(5000, result.Port);
        Assert.Equal("ws://[::1]:5000/socket", WebSocketUriRules.ToWebSocketUri(result).AbsoluteUri);
    }

    [Theory]
    [InlineData("ftp://example.com/")]
    [InlineData("file:///tmp/x")]
    [InlineData("mailto:someone@example.com")]
    public void ToHttpUri_OtherScheme_ThrowsArgumentException(string input)
    {
        var exception = Assert.Throws<ArgumentException>(() => WebSocketUriRules.ToHttpUri(new Uri(input)));
        Assert.Equal("uri", exception.ParamName);
    }

    [Theory]
    [InlineData("ws://example.com/#frag")]
    [InlineData("ws://example.com/path#")]
    public void ToHttpUri_Fragment_ThrowsArgumentException(string input)
    {
        var exception = Assert.Throws<ArgumentException>(() => WebSocketUriRules.ToHttpUri(new Uri(input)));
        Assert.Contains("fragment", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToHttpUri_RelativeUri_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => WebSocketUriRules.ToHttpUri(new Uri("/chat", UriKind.Relative)));
    }

    [Fact]
    public void GetBasicCredentials_ReturnsUnescapedUserInfo()
    {
        Assert.Equal("user:p@ss", WebSocketUriRules.GetBasicCredentials(new Uri("ws://user:p%40ss@example.com/")));
        Assert.Null(WebSocketUriRules.GetBasicCredentials(new Uri("ws://example.com/")));
    }

    [Theory]
    [InlineData("Host")]
    [InlineData("host")]
    [InlineData("Upgrade")]
    [InlineData("Connection")]
    [InlineData("Sec-WebSocket-Key")]
    [InlineData("Sec-WebSocket-Version")]
    [InlineData("Sec-WebSocket-Extensions")]
    [InlineData("Sec-WebSocket-Accept")]
    [InlineData("sec-websocket-protocol")]
    [InlineData("Content-Length")]
    [InlineData("Transfer-Encoding")]
    public void ValidateRequestHeader_HeaderOwnedByHandshake_IsRefusedNamingTheHeader(string name)
    {
        var exception = Assert.Throws<ArgumentException>(() => RequestHeaderRules.Validate(name, "secret-value"));

        Assert.Contains(name, exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-value", exception.Message, StringComparison.Ordinal);
        Assert.Equal(nameof(WebSocketHandshakeOptions.Headers), exception.ParamName);
    }

    [Fact]
    public void ValidateRequestHeader_SubProtocolHeader_PointsToSubProtocolsOption()
    {
        var exception = Assert.Throws<ArgumentException>(() => RequestHeaderRules.Validate("Sec-WebSocket-Protocol", "chat"));

        Assert.Contains(nameof(WebSocketHandshakeOptions.SubProtocols), exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bearer abc\r\nX-Injected: 1")]
    [InlineData("abc\ndef")]
    [InlineData("abc\rdef")]
    [InlineData("abc\0def")]
    public void ValidateRequestHeader_ValueWithCrLfOrNul_IsRefusedNamingHeaderNotValue(string value)
    {
        var exception = Assert.Throws<ArgumentException>(() => RequestHeaderRules.Validate("Authorization", value));

        Assert.Contains("Authorization", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("abc", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Bearer", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("X Header")]
    [InlineData("X-Header:")]
    [InlineData("X-Héader")]
    [InlineData("X(Header)")]
    [InlineData("X\r\nInjected")]
    [InlineData(":authority")]
    [InlineData("X\"Quoted\"")]
    public void ValidateRequestHeader_NameNotAToken_IsRefused(string name)
    {
        var exception = Assert.Throws<ArgumentException>(() => RequestHeaderRules.Validate(name, "value"));

        Assert.Equal(nameof(WebSocketHandshakeOptions.Headers), exception.ParamName);
        Assert.DoesNotContain("\r", exception.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", exception.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Authorization", "Bearer abc.def")]
    [InlineData("X-Api-Key", "k")]
    [InlineData("Origin", "https://example.com")]
    [InlineData("Accept-Language", "de-CH, en;q=0.5")]
    [InlineData("X-Tenant", "")]
    [InlineData("!#$%&'*+-.^_`|~0aZ", "tab\tis fine")]
    public void ValidateRequestHeader_ValidHeader_IsAccepted(string name, string value)
    {
        RequestHeaderRules.Validate(name, value);
    }

    [Fact]
    public void ValidateRequestHeader_NullValue_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => RequestHeaderRules.Validate("X-A", null));
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("a,b")]
    [InlineData("chat/1")]
    public void ValidateSubProtocols_InvalidToken_IsRefused(string subProtocol)
    {
        var exception = Assert.Throws<ArgumentException>(() => SubProtocolNegotiation.ValidateOffer([subProtocol]));
        Assert.Equal(nameof(WebSocketHandshakeOptions.SubProtocols), exception.ParamName);
    }

    [Fact]
    public void ValidateSubProtocols_Duplicate_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => SubProtocolNegotiation.ValidateOffer(["chat", "CHAT"]));
    }

    [Fact]
    public void ValidateHttp11Upgrade_CorrectResponse_Passes()
    {
        var response = Response101(upgrade: "WebSocket", connection: "keep-alive, Upgrade", accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

        UpgradeResponseRules.Validate(response, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    [Theory]
    [InlineData(null, "Upgrade", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Upgrade: websocket")]
    [InlineData("h2c", "Upgrade", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Upgrade: websocket")]
    [InlineData("websocket, h2c", "Upgrade", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Upgrade: websocket")]
    [InlineData("websocket", null, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Connection")]
    [InlineData("websocket", "keep-alive", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "Connection")]
    [InlineData("websocket", "Upgrade", null, "Sec-WebSocket-Accept")]
    [InlineData("websocket", "Upgrade", "wrong", "Sec-WebSocket-Accept")]
    [InlineData("websocket", "Upgrade", "S3PPLMBITXAQ9KYGZZHZRBK+XOO=", "Sec-WebSocket-Accept")]
    public void ValidateHttp11Upgrade_BrokenRule_FailsWithInvalidHandshakeNamingTheRule(string? upgrade, string? connection, string? accept, string rule)
    {
        var response = Response101(upgrade, connection, accept);

        var exception = Assert.Throws<WebSocketConnectException>(() => UpgradeResponseRules.Validate(response, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains(rule, exception.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void NegotiateSubProtocol_ServerPicksOffered_ReturnsOurSpelling()
    {
        var response = Headers(("Sec-WebSocket-Protocol", "CHAT.v2"));

        Assert.Equal("chat.v2", SubProtocolNegotiation.Negotiate(response, ["chat.v1", "chat.v2"]));
    }

    [Fact]
    public void NegotiateSubProtocol_ServerPicksNone_ReturnsNull()
    {
        var response = Headers();

        Assert.Null(SubProtocolNegotiation.Negotiate(response, ["chat"]));
    }

    [Theory]
    [InlineData(new string[0], "chat")]
    [InlineData(new[] { "chat" }, "mqtt")]
    [InlineData(new[] { "chat", "mqtt" }, "chat, mqtt")]
    public void NegotiateSubProtocol_NotOfferedOrSeveral_FailsWithInvalidHandshake(string[] offered, string selected)
    {
        var response = Headers(("Sec-WebSocket-Protocol", selected));

        var exception = Assert.Throws<WebSocketConnectException>(() => SubProtocolNegotiation.Negotiate(response, offered));
        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
    }

    [Fact]
    public void NegotiateExtensions_NothingOffered_AnyExtensionFails()
    {
        var response = Headers(("Sec-WebSocket-Extensions", "permessage-deflate"));

        var exception = Assert.Throws<WebSocketConnectException>(() => ExtensionNegotiation.Negotiate(response, []));

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("permessage-deflate", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NegotiateExtensions_OfferedExtension_IsAcceptedWithItsParameters()
    {
        var offer = new RecordingOffer("permessage-deflate", "permessage-deflate; client_max_window_bits");
        var response = Headers(("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover; x=\"a,b\""));

        string? negotiated = ExtensionNegotiation.Negotiate(response, [offer]);

        Assert.Equal("permessage-deflate; server_no_context_takeover; x=\"a,b\"", negotiated);
        Assert.Equal(["server_no_context_takeover; x=\"a,b\""], offer.Accepted);
    }

    [Fact]
    public void NegotiateExtensions_UnofferedOrRepeatedOrRefused_Fails()
    {
        var unoffered = Headers(("Sec-WebSocket-Extensions", "x-other"));
        var repeated = Headers(("Sec-WebSocket-Extensions", "x-mine, x-mine"));
        var refused = Headers(("Sec-WebSocket-Extensions", "x-mine; bad"));

        Assert.Throws<WebSocketConnectException>(() => ExtensionNegotiation.Negotiate(unoffered, [new RecordingOffer("x-mine", "x-mine")]));
        Assert.Throws<WebSocketConnectException>(() => ExtensionNegotiation.Negotiate(repeated, [new RecordingOffer("x-mine", "x-mine")]));
        var exception = Assert.Throws<WebSocketConnectException>(() => ExtensionNegotiation.Negotiate(refused, [new RecordingOffer("x-mine", "x-mine")]));
        Assert.Equal("parameter 'bad' refused", exception.Message);
    }

    [Fact]
    public void SplitList_SplitsOnCommasOutsideQuotes_AndDropsEmptyElements()
    {
        List<string> elements = HttpFieldSyntax.SplitList([" a ,, b;x=\"1,2\" ", "c"]);

        Assert.Equal(["a", "b;x=\"1,2\"", "c"], elements);
    }

    [Theory]
    [InlineData("7", 7)]
    [InlineData(" 120 ", 120)]
    [InlineData("0", 0)]
    public void GetRetryAfter_DeltaSeconds(string value, int seconds)
    {
        var response = Headers(("Retry-After", value));

        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryAfter.GetDelay(response, DateTimeOffset.UtcNow));
    }

    [Fact]
    public void GetRetryAfter_HttpDate_IsTheDelayFromNow_NeverNegative()
    {
        var now = new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);
        var future = Headers(("Retry-After", "Wed, 01 Jan 2025 12:01:30 GMT"));
        var past = Headers(("Retry-After", "Wed, 01 Jan 2025 11:00:00 GMT"));
        var garbage = Headers(("Retry-After", "soon"));

        Assert.Equal(TimeSpan.FromSeconds(90), RetryAfter.GetDelay(future, now));
        Assert.Equal(TimeSpan.Zero, RetryAfter.GetDelay(past, now));
        Assert.Null(RetryAfter.GetDelay(garbage, now));
    }

    [Theory]
    [InlineData("http://a.example/x", "/y", "http://a.example/y")]
    [InlineData("http://a.example/x/z", "w", "http://a.example/x/w")]
    [InlineData("http://a.example/x", "ws://b.example:81/y", "http://b.example:81/y")]
    [InlineData("https://a.example/x", "wss://b.example/y#f", "https://b.example/y")]
    [InlineData("http://a.example/x", "https://a.example/y", "https://a.example/y")]
    [InlineData("http://[::1]:5/x", "/y?q=1", "http://[::1]:5/y?q=1")]
    public void ResolveRedirect_ResolvesAndMapsToHttp(string current, string location, string expected)
    {
        Uri result = RedirectRules.Resolve(new Uri(current), new Uri(location, UriKind.RelativeOrAbsolute));

        Assert.Equal(expected, result.AbsoluteUri);
    }

    [Theory]
    [InlineData("http://a.example/x", "ftp://a.example/")]
    [InlineData("https://a.example/x", "ws://a.example/")]
    [InlineData("https://a.example/x", "http://a.example/")]
    public void ResolveRedirect_OtherSchemeOrTlsDowngrade_FailsWithInvalidHandshake(string current, string location)
    {
        var exception = Assert.Throws<WebSocketConnectException>(() => RedirectRules.Resolve(new Uri(current), new Uri(location)));

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
    }

    // Found by fuzzing the handshake response: each Location is a valid relative URI on its own,
    // but resolving it against the request URI threw UriFormatException, which the connect then
    // reported as an unknown failure instead of a broken handshake.
    [Theory]
    [InlineData("//%wss://a")]
    [InlineData("//:ws://]%00")]
    [InlineData("//%")]
    public void ResolveRedirect_LocationThatDoesNotResolve_FailsWithInvalidHandshake(string location)
    {
        var headers = Headers(("Location", location));
        Uri? parsed = RedirectRules.GetLocation(headers);
        Assert.NotNull(parsed);

        var exception = Assert.Throws<WebSocketConnectException>(() => RedirectRules.Resolve(new Uri("http://a.example/x"), parsed));

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("does not resolve", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsSameOrigin_ComparesSchemeHostAndPort()
    {
        Assert.True(WebSocketUriRules.IsSameOrigin(new Uri("http://A.example/x"), new Uri("ws://a.example:80/y")));
        Assert.False(WebSocketUriRules.IsSameOrigin(new Uri("http://a.example/"), new Uri("https://a.example/")));
        Assert.False(WebSocketUriRules.IsSameOrigin(new Uri("http://a.example/"), new Uri("http://a.example:81/")));
        Assert.False(WebSocketUriRules.IsSameOrigin(new Uri("http://a.example/"), new Uri("http://b.example/")));
    }

    [Fact]
    public void RemoveCrossOriginHeaders_DropsCredentialsAndSecretLookingHeaders_KeepsTheRest()
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["Authorization"] = "Bearer x",
            ["Cookie"] = "a=b",
            ["Proxy-Authorization"] = "Basic y",
            ["X-Api-Key"] = "k",
            ["X-Session-Id"] = "s",
            ["X-Tenant"] = "t",
            ["Origin"] = "https://example.com",
        };

        int removed = RedirectRules.RemoveCrossOriginHeaders(headers);

        Assert.Equal(5, removed);
        Assert.Equal(["Origin", "X-Tenant"], headers.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void CollectHeaders_IncludesContentHeaders_CaseInsensitive_WithRepeatedValues()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.Unauthorized) { Content = new StringContent("x") };
        response.Headers.TryAddWithoutValidation("WWW-Authenticate", "Bearer");
        response.Headers.TryAddWithoutValidation("WWW-Authenticate", "Basic realm=\"r\"");

        IReadOnlyDictionary<string, IReadOnlyList<string>> headers = HttpWebSocketTransport.CollectHeaders(response);

        Assert.Equal(["Bearer", "Basic realm=\"r\""], headers["www-authenticate"]);
        Assert.True(headers.ContainsKey("Content-Type"));
    }

    private static Dictionary<string, IReadOnlyList<string>> Response101(string? upgrade, string? connection, string? accept)
    {
        var headers = Headers();
        if (upgrade is not null)
        {
            headers["Upgrade"] = [upgrade];
        }

        if (connection is not null)
        {
            headers["Connection"] = [connection];
        }

        if (accept is not null)
        {
            headers["Sec-WebSocket-Accept"] = [accept];
        }

        return headers;
    }

    /// <summary>Response headers as the transports collect them: case-insensitive names, each with its values.</summary>
    private static Dictionary<string, IReadOnlyList<string>> Headers(params (string Name, string Value)[] headers)
    {
        var result = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach ((string name, string value) in headers)
        {
            result[name] = result.TryGetValue(name, out IReadOnlyList<string>? values) ? [.. values, value] : [value];
        }

        return result;
    }

    private sealed class RecordingOffer(string name, string offer) : WebSocketExtensionOffer(name)
    {
        public List<string> Accepted { get; } = [];

        public override string OfferHeaderValue => offer;

        public override bool TryAccept(string negotiatedParameters, out string? error)
        {
            if (negotiatedParameters == "bad")
            {
                error = "parameter 'bad' refused";
                return false;
            }

            Accepted.Add(negotiatedParameters);
            error = null;
            return true;
        }
    }
}
