using System.Net;
using System.Net.Http;
using Duplex.Handshake;
using Duplex.Handshake.Rules;

namespace Duplex.Tests.Handshake;

/// <summary>The smaller rules of Rules/ that the other test classes do not reach directly.</summary>
public sealed class HandshakeRulesTests
{
    [Theory]
    [InlineData("chat", true)]
    [InlineData("a.b-c_d~e!#$%&'*+^`|", true)]
    [InlineData("", false)]
    [InlineData("a b", false)]
    [InlineData("a,b", false)]
    [InlineData("\"q\"", false)]
    [InlineData("é", false)]
    public void IsToken_IsRfc7230Tchar(string value, bool expected)
    {
        Assert.Equal(expected, HttpFieldSyntax.IsToken(value));
    }

    [Fact]
    public void Quote_ShortToken_IsQuoted_AnythingElseIsLeftOut()
    {
        Assert.Equal("'chat'", HttpFieldSyntax.Quote("chat"));
        Assert.Equal("(unprintable)", HttpFieldSyntax.Quote("a\r\nb"));
        Assert.Equal("(unprintable)", HttpFieldSyntax.Quote(new string('a', 65)));
    }

    [Fact]
    public void Printable_ReplacesControlCharacters_AndCapsTheLength()
    {
        Assert.Equal("a?b?", HttpFieldSyntax.Printable("a\rb\0"));
        Assert.Equal(new string('x', 64) + "…", HttpFieldSyntax.Printable(new string('x', 100)));
    }

    [Theory]
    [InlineData("Host")]
    [InlineData("sec-websocket-key")]
    [InlineData("Transfer-Encoding")]
    [InlineData("CONNECTION")]
    public void IsOwnedHeader_HandshakeAndFramingHeaders(string name)
    {
        Assert.True(RequestHeaderRules.IsOwnedHeader(name));
    }

    [Fact]
    public void IsOwnedHeader_CustomHeader_IsNot()
    {
        Assert.False(RequestHeaderRules.IsOwnedHeader("Authorization"));
    }

    [Fact]
    public void ValidateRequestHeader_ContentHeader_IsRefused()
    {
        var exception = Assert.Throws<ArgumentException>(() => RequestHeaderRules.Validate("Content-Type", "text/plain"));
        Assert.Contains("Content-Type", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateRequestHeader_NonAsciiValue_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => RequestHeaderRules.Validate("X-Name", "Zoë"));
    }

    [Fact]
    public void ValidateExtensionOffers_ValidOffer_Passes()
    {
        ExtensionNegotiation.ValidateOffers([new FixedOffer("permessage-deflate", "permessage-deflate; client_max_window_bits")]);
    }

    [Theory]
    [InlineData("bad name", "bad name")]
    [InlineData("x-ext", "")]
    [InlineData("x-ext", "other-ext")]
    [InlineData("x-ext", "x-ext\r\nInjected: 1")]
    public void ValidateExtensionOffers_InvalidOffer_IsRefused(string name, string offer)
    {
        Assert.Throws<ArgumentException>(() => ExtensionNegotiation.ValidateOffers([new FixedOffer(name, offer)]));
    }

    [Fact]
    public void ValidateExtensionOffers_SameNameTwice_IsRefused()
    {
        Assert.Throws<ArgumentException>(() => ExtensionNegotiation.ValidateOffers([new FixedOffer("x-ext", "x-ext"), new FixedOffer("X-EXT", "X-EXT")]));
    }

    [Theory]
    [InlineData("ws", "1.1", HttpVersionPolicy.RequestVersionOrLower, false)]
    [InlineData("wss", "1.1", HttpVersionPolicy.RequestVersionOrHigher, true)]
    [InlineData("ws", "1.1", HttpVersionPolicy.RequestVersionOrHigher, false)]
    [InlineData("wss", "2.0", HttpVersionPolicy.RequestVersionOrLower, true)]
    [InlineData("ws", "2.0", HttpVersionPolicy.RequestVersionOrLower, false)]
    [InlineData("ws", "2.0", HttpVersionPolicy.RequestVersionExact, true)]
    [InlineData("wss", "2.0", HttpVersionPolicy.RequestVersionExact, true)]
    public void StartsWithHttp2_CleartextOnlyWhenRequired(string scheme, string version, HttpVersionPolicy policy, bool expected)
    {
        var options = new WebSocketHandshakeOptions { HttpVersion = Version.Parse(version), HttpVersionPolicy = policy };
        Assert.Equal(expected, HttpVersionRules.StartsWithHttp2(new Uri(scheme + "://example.com/"), options));
    }

    [Theory]
    [InlineData(HttpStatusCode.MovedPermanently, true)]
    [InlineData(HttpStatusCode.Found, true)]
    [InlineData(HttpStatusCode.SeeOther, true)]
    [InlineData(HttpStatusCode.TemporaryRedirect, true)]
    [InlineData(HttpStatusCode.PermanentRedirect, true)]
    [InlineData(HttpStatusCode.NotModified, false)]
    [InlineData(HttpStatusCode.MultipleChoices, false)]
    public void IsRedirect_TheFiveFollowableStatuses(HttpStatusCode status, bool expected)
    {
        Assert.Equal(expected, RedirectRules.IsRedirect(status));
    }

    [Fact]
    public void GetLocation_MissingOrRepeated_IsNull_SingleIsTheUri()
    {
        Assert.Null(RedirectRules.GetLocation(new Dictionary<string, IReadOnlyList<string>>()));
        Assert.Null(RedirectRules.GetLocation(new Dictionary<string, IReadOnlyList<string>> { ["Location"] = ["/a", "/b"] }));
        Assert.Equal(new Uri("/next", UriKind.Relative), RedirectRules.GetLocation(new Dictionary<string, IReadOnlyList<string>> { ["Location"] = [" /next "] }));
    }

    [Theory]
    [InlineData("http://example.com/a?b", "ws://example.com/a?b")]
    [InlineData("https://example.com:8443/", "wss://example.com:8443/")]
    [InlineData("https://[::1]/", "wss://[::1]/")]
    public void ToWebSocketUri_MapsBack(string http, string expected)
    {
        Assert.Equal(new Uri(expected), WebSocketUriRules.ToWebSocketUri(new Uri(http)));
    }

    [Fact]
    public void Endpoint_IsHostAndPort_NeverUserInfoPathOrQuery()
    {
        Assert.Equal("example.com:443", WebSocketUriRules.Endpoint(new Uri("https://user:secret@example.com/path?token=t")));
    }

    [Fact]
    public void IsProxied_UseProxyFalse_IsNeverProxied()
    {
        var options = new WebSocketHandshakeOptions { UseProxy = false };
        Assert.False(ProxyRules.IsProxied(new Uri("ws://example.com/"), options, new FixedProxy(_ => new Uri("http://proxy:3128/")), whenUnknown: true));
    }

    [Fact]
    public void IsProxied_AsksAboutTheWebSocketForm_AndAProxyReturningTheTargetIsNone()
    {
        var asked = new List<Uri>();
        var proxy = new FixedProxy(uri =>
        {
            asked.Add(uri);
            return uri;
        });

        Assert.False(ProxyRules.IsProxied(new Uri("https://example.com/x"), new WebSocketHandshakeOptions(), proxy, whenUnknown: true));
        Assert.All(asked, uri => Assert.Equal("wss://example.com/x", uri.AbsoluteUri));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void IsProxied_ProxyThatThrows_IsTheAnswerForUnknown(bool whenUnknown)
    {
        var proxy = new FixedProxy(_ => throw new InvalidOperationException("no PAC"));
        Assert.Equal(whenUnknown, ProxyRules.IsProxied(new Uri("ws://example.com/"), new WebSocketHandshakeOptions(), proxy, whenUnknown));
    }

    [Fact]
    public void IsProxied_ExplicitProxyWins_OverTheDefault()
    {
        var options = new WebSocketHandshakeOptions { Proxy = new FixedProxy(_ => new Uri("http://proxy:3128/")) };
        Assert.True(ProxyRules.IsProxied(new Uri("ws://example.com/"), options, new FixedProxy(_ => null), whenUnknown: false));
    }

    private sealed class FixedOffer(string name, string offer) : WebSocketExtensionOffer(name)
    {
        public override string OfferHeaderValue => offer;

        public override bool TryAccept(string negotiatedParameters, out string? error)
        {
            error = null;
            return true;
        }
    }

    private sealed class FixedProxy(Func<Uri, Uri?> getProxy) : IWebProxy
    {
        public ICredentials? Credentials { get; set; }

        public Uri? GetProxy(Uri destination) => getProxy(destination);

        public bool IsBypassed(Uri host) => getProxy(host) is null || getProxy(host) == host;
    }
}
