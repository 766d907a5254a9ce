using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Duplex.Handshake;
using Duplex.Handshake.Rules;
using Duplex.Handshake.Transports;

namespace Duplex.Tests.Handshake;

/// <summary>Which transport opens a connection: the socket transport for plain HTTP/1.1 straight to the server, SocketsHttpHandler otherwise.</summary>
public sealed class WebSocketTransportSelectorTests
{
    private static readonly IWebProxy s_noProxy = new FakeProxy(_ => null);

    [Theory]
    [InlineData("ws://example.com/", "1.1", HttpVersionPolicy.RequestVersionOrLower, true)]
    [InlineData("wss://example.com/", "1.1", HttpVersionPolicy.RequestVersionOrLower, true)]
    [InlineData("ws://example.com/", "1.1", HttpVersionPolicy.RequestVersionExact, true)]
    [InlineData("wss://example.com/", "1.1", HttpVersionPolicy.RequestVersionExact, true)]
    [InlineData("http://example.com/", "1.1", HttpVersionPolicy.RequestVersionOrLower, true)]
    [InlineData("https://example.com/", "1.1", HttpVersionPolicy.RequestVersionOrLower, true)]

    // HTTP/2 allowed but not required: cleartext never tries it (no ALPN), TLS lets ALPN decide.
    [InlineData("ws://example.com/", "1.1", HttpVersionPolicy.RequestVersionOrHigher, true)]
    [InlineData("wss://example.com/", "1.1", HttpVersionPolicy.RequestVersionOrHigher, false)]
    [InlineData("ws://example.com/", "2.0", HttpVersionPolicy.RequestVersionOrLower, true)]
    [InlineData("wss://example.com/", "2.0", HttpVersionPolicy.RequestVersionOrLower, false)]

    // HTTP/2 required.
    [InlineData("ws://example.com/", "2.0", HttpVersionPolicy.RequestVersionExact, false)]
    [InlineData("wss://example.com/", "2.0", HttpVersionPolicy.RequestVersionExact, false)]
    [InlineData("ws://example.com/", "2.0", HttpVersionPolicy.RequestVersionOrHigher, false)]
    [InlineData("wss://example.com/", "2.0", HttpVersionPolicy.RequestVersionOrHigher, false)]
    public void CanUseSocketTransport_OnlyWhenTheHandshakeIsAnHttp11Upgrade(string uri, string version, HttpVersionPolicy policy, bool expected)
    {
        var options = new WebSocketHandshakeOptions { HttpVersion = Version.Parse(version), HttpVersionPolicy = policy };

        Assert.Equal(expected, WebSocketTransportSelector.CanUseSocketTransport(new Uri(uri), options, s_noProxy));
    }

    [Fact]
    public void CanUseSocketTransport_CallersInvoker_No()
    {
        using var client = new HttpClient();
        var options = new WebSocketHandshakeOptions { HttpMessageInvoker = client };

        Assert.False(WebSocketTransportSelector.CanUseSocketTransport(new Uri("ws://example.com/"), options, s_noProxy));
    }

    [Fact]
    public void CanUseSocketTransport_ConnectCallback_No()
    {
        var options = new WebSocketHandshakeOptions { ConnectCallback = (_, _) => ValueTask.FromResult<Stream>(new MemoryStream()) };

        Assert.False(WebSocketTransportSelector.CanUseSocketTransport(new Uri("ws://example.com/"), options, s_noProxy));
    }

    [Fact]
    public void CanUseSocketTransport_ExplicitProxy_No_EvenWhenItBypassesTheHost()
    {
        var options = new WebSocketHandshakeOptions { Proxy = new WebProxy("http://proxy.example:3128", BypassOnLocal: true, BypassList: [@"example\.com"]) };

        Assert.False(WebSocketTransportSelector.CanUseSocketTransport(new Uri("ws://example.com/"), options, s_noProxy));
    }

    [Fact]
    public void CanUseSocketTransport_ProxyTurnedOff_Yes_WhateverTheProxies()
    {
        var options = new WebSocketHandshakeOptions { UseProxy = false, Proxy = new WebProxy("http://proxy.example:3128") };
        var everything = new FakeProxy(_ => new Uri("http://proxy.example:3128/"));

        Assert.True(WebSocketTransportSelector.CanUseSocketTransport(new Uri("ws://example.com/"), options, everything));
    }

    [Theory]
    [InlineData("ws://example.com/", false)]
    [InlineData("wss://example.com/", false)]
    [InlineData("ws://internal.example/", true)]
    [InlineData("wss://internal.example:8443/", true)]
    public void CanUseSocketTransport_EnvironmentProxy_OnlyForTheHostsItBypasses(string uri, bool expected)
    {
        var proxy = new FakeProxy(target => target.Host == "internal.example" ? null : new Uri("http://proxy.example:3128/"));

        Assert.Equal(expected, WebSocketTransportSelector.CanUseSocketTransport(new Uri(uri), new WebSocketHandshakeOptions(), proxy));
    }

    [Fact]
    public void CanUseSocketTransport_EnvironmentProxyReturningTheTargetItself_CountsAsBypassed()
    {
        var proxy = new FakeProxy(target => target);

        Assert.True(WebSocketTransportSelector.CanUseSocketTransport(new Uri("wss://example.com/"), new WebSocketHandshakeOptions(), proxy));
    }

    [Fact]
    public void CanUseSocketTransport_ProxyIsAskedAboutTheWebSocketUri()
    {
        var asked = new List<Uri>();
        var proxy = new FakeProxy(target =>
        {
            asked.Add(target);
            return null;
        });

        WebSocketTransportSelector.CanUseSocketTransport(new Uri("https://example.com/x?y=1"), new WebSocketHandshakeOptions(), proxy);

        Assert.All(asked, uri => Assert.Equal("wss://example.com/x?y=1", uri.AbsoluteUri));
        Assert.NotEmpty(asked);
    }

    [Fact]
    public void CanUseSocketTransport_ProxyThatThrows_No()
    {
        var proxy = new FakeProxy(_ => throw new SocketException((int)SocketError.HostNotFound));

        Assert.False(WebSocketTransportSelector.CanUseSocketTransport(new Uri("ws://example.com/"), new WebSocketHandshakeOptions(), proxy));
    }

    [Theory]
    [InlineData("ftp://example.com/")]
    [InlineData("/relative")]
    public void CanUseSocketTransport_UriTheTransportsRefuse_No_SoTheErrorIsTheUsualOne(string uri)
    {
        Assert.False(WebSocketTransportSelector.CanUseSocketTransport(new Uri(uri, UriKind.RelativeOrAbsolute), new WebSocketHandshakeOptions(), s_noProxy));
    }

    [Fact]
    public void Choose_DefaultOptions_IsTheSocketFirstSelector_Http2Exact_IsTheHttpTransport()
    {
        if (ProxyRules.IsProxied(new Uri("ws://127.0.0.1:1/"), new WebSocketHandshakeOptions(), HttpClient.DefaultProxy, whenUnknown: true))
        {
            return; // this machine's environment proxies loopback; the rule itself is covered above
        }

        Assert.Same(WebSocketTransportSelector.Default, WebSocketTransportSelector.Choose(new Uri("ws://127.0.0.1:1/"), new WebSocketHandshakeOptions()));
        Assert.Same(
            HttpWebSocketTransport.Default,
            WebSocketTransportSelector.Choose(
                new Uri("ws://127.0.0.1:1/"),
                new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact }));
    }

    /// <summary>An environment proxy that answers <see cref="IWebProxy.GetProxy"/> with a function and bypasses when it answers null.</summary>
    private sealed class FakeProxy(Func<Uri, Uri?> getProxy) : IWebProxy
    {
        public ICredentials? Credentials { get; set; }

        public Uri? GetProxy(Uri destination) => getProxy(destination);

        public bool IsBypassed(Uri host) => getProxy(host) is null;
    }
}
