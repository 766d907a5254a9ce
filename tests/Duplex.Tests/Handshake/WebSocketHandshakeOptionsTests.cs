using System.Net;
using System.Net.Http;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Duplex.Handshake;

namespace Duplex.Tests.Handshake;

public sealed class WebSocketHandshakeOptionsTests
{
    [Fact]
    public void Defaults_AreSafeAndDocumented()
    {
        var options = new WebSocketHandshakeOptions();

        Assert.Empty(options.Headers);
        Assert.Empty(options.SubProtocols);
        Assert.Equal(HttpVersion.Version11, options.HttpVersion);
        Assert.Equal(HttpVersionPolicy.RequestVersionOrLower, options.HttpVersionPolicy);
        Assert.Equal(TimeSpan.FromSeconds(10), options.OpenTimeout);
        Assert.Equal(16 * 1024, options.MaxResponseHeadersBytes);
        Assert.False(options.FollowRedirects);
        Assert.Equal(5, options.MaxRedirects);
        Assert.True(options.UseProxy);
        Assert.Null(options.Proxy);
        Assert.True(options.NoDelay);
        Assert.Null(options.ConnectCallback);
        Assert.Null(options.HttpMessageInvoker);
        Assert.False(options.Tls.AcceptAnyCertificate);
        Assert.Equal(SslProtocols.None, options.Tls.EnabledProtocols);
        Assert.Equal(X509RevocationMode.NoCheck, options.Tls.CertificateRevocationCheckMode);
        Assert.True(options.Tls.IsDefault);
        options.Validate();
    }

    [Fact]
    public void Headers_AreCaseInsensitiveByDefault()
    {
        var options = new WebSocketHandshakeOptions();
        options.Headers["x-token"] = "a";
        options.Headers["X-TOKEN"] = "b";

        Assert.Single(options.Headers);
    }

    [Fact]
    public void Clone_IsASnapshot_LaterEditsHaveNoEffect()
    {
        var roots = new X509Certificate2Collection();
        var options = new WebSocketHandshakeOptions { OpenTimeout = TimeSpan.FromSeconds(3) };
        options.Headers["Authorization"] = "Bearer one";
        options.SubProtocols.Add("chat");
        options.Tls.TrustedRootCertificates = roots;

        WebSocketHandshakeOptions clone = options.Clone();
        options.Headers["Authorization"] = "Bearer two";
        options.Headers["X-New"] = "1";
        options.SubProtocols.Add("mqtt");
        options.OpenTimeout = TimeSpan.FromSeconds(30);
        options.Tls.AcceptAnyCertificate = true;

        Assert.Equal("Bearer one", clone.Headers["authorization"]);
        Assert.Single(clone.Headers);
        Assert.Equal(["chat"], clone.SubProtocols);
        Assert.Equal(TimeSpan.FromSeconds(3), clone.OpenTimeout);
        Assert.False(clone.Tls.AcceptAnyCertificate);
    }

    [Fact]
    public void Clone_CaseSensitiveDictionaryWithClashingNames_IsRefused()
    {
        var options = new WebSocketHandshakeOptions
        {
            Headers = new Dictionary<string, string>(StringComparer.Ordinal) { ["X-A"] = "1", ["x-a"] = "2" },
        };

        var exception = Assert.Throws<ArgumentException>(options.Clone);
        Assert.Equal(nameof(WebSocketHandshakeOptions.Headers), exception.ParamName);
    }

    public static TheoryData<Action<WebSocketHandshakeOptions>, string> InvalidOptions => new()
    {
        { o => o.Headers = null!, nameof(WebSocketHandshakeOptions.Headers) },
        { o => o.Headers["Upgrade"] = "h2c", nameof(WebSocketHandshakeOptions.Headers) },
        { o => o.SubProtocols = null!, nameof(WebSocketHandshakeOptions.SubProtocols) },
        { o => o.SubProtocols.Add("not a token"), nameof(WebSocketHandshakeOptions.SubProtocols) },
        { o => o.HttpVersion = HttpVersion.Version30, nameof(WebSocketHandshakeOptions.HttpVersion) },
        { o => o.HttpVersion = HttpVersion.Version10, nameof(WebSocketHandshakeOptions.HttpVersion) },
        { o => o.HttpVersionPolicy = (HttpVersionPolicy)42, nameof(WebSocketHandshakeOptions.HttpVersionPolicy) },
        { o => o.OpenTimeout = TimeSpan.Zero, nameof(WebSocketHandshakeOptions.OpenTimeout) },
        { o => o.OpenTimeout = TimeSpan.FromSeconds(-2), nameof(WebSocketHandshakeOptions.OpenTimeout) },
        { o => o.OpenTimeout = TimeSpan.FromDays(30), nameof(WebSocketHandshakeOptions.OpenTimeout) },
        { o => o.MaxResponseHeadersBytes = 0, nameof(WebSocketHandshakeOptions.MaxResponseHeadersBytes) },
        { o => o.MaxRedirects = -1, nameof(WebSocketHandshakeOptions.MaxRedirects) },
        { o => o.Tls = null!, nameof(WebSocketHandshakeOptions.Tls) },
        { o => o.Tls.CertificateRevocationCheckMode = (X509RevocationMode)9, nameof(WebSocketTlsOptions.CertificateRevocationCheckMode) },
        { o => o.Tls.TargetHost = "", nameof(WebSocketTlsOptions.TargetHost) },
        {
            o => { o.Tls.AcceptAnyCertificate = true; o.Tls.RemoteCertificateValidationCallback = (_, _, _, _) => true; },
            nameof(WebSocketTlsOptions.AcceptAnyCertificate)
        },
        {
            o => { o.HttpMessageInvoker = s_invoker; o.Tls.AcceptAnyCertificate = true; },
            nameof(WebSocketHandshakeOptions.Tls)
        },
        {
            o => { o.HttpMessageInvoker = s_invoker; o.Proxy = new WebProxy("http://127.0.0.1:1"); },
            nameof(WebSocketHandshakeOptions.Proxy)
        },
        {
            o => { o.HttpMessageInvoker = s_invoker; o.ConnectCallback = (_, _) => ValueTask.FromResult(Stream.Null); },
            nameof(WebSocketHandshakeOptions.ConnectCallback)
        },
    };

    private static readonly HttpMessageInvoker s_invoker = new(new SocketsHttpHandler());

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void Validate_InvalidValue_ThrowsArgumentExceptionNamingTheProperty(Action<WebSocketHandshakeOptions> configure, string property)
    {
        var options = new WebSocketHandshakeOptions();
        configure(options);

        var exception = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Equal(property, exception.ParamName);
        Assert.Contains(property, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_InfiniteOpenTimeout_IsAllowed()
    {
        new WebSocketHandshakeOptions { OpenTimeout = Timeout.InfiniteTimeSpan }.Validate();
    }

    [Fact]
    public void Validate_Http2Exact_IsAllowed()
    {
        new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact }.Validate();
    }
}
