using System.Net;
using System.Net.Http;
using System.Security.Cryptography.X509Certificates;
using Duplex.Handshake;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Handshake;

/// <summary>The TLS scenarios through SocketsHttpHandler, plus HTTP/2 negotiated by ALPN and the fallback to HTTP/1.1.</summary>
public sealed class HttpWebSocketTransportTlsTests : TransportTlsTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() => new HttpWebSocketTransport();

    [Fact]
    public async Task ConnectAsync_SameCustomRoot_SharesOneHandler()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var transport = new HttpWebSocketTransport();

        for (int i = 0; i < 2; i++)
        {
            var options = new WebSocketHandshakeOptions();
            options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(host.Certificate!.RawData)];
            await using WebSocketHandshakeResult result = await transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);
        }

        Assert.Equal(1, transport.Invokers.SharedCount);
    }

    [Theory]
    [InlineData("2.0", HttpVersionPolicy.RequestVersionOrLower)]
    [InlineData("2.0", HttpVersionPolicy.RequestVersionExact)]
    [InlineData("1.1", HttpVersionPolicy.RequestVersionOrHigher)]
    public async Task ConnectAsync_Http2OverTls_NegotiatedByAlpn_StreamCarriesFrames(string version, HttpVersionPolicy policy)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var options = new WebSocketHandshakeOptions { HttpVersion = Version.Parse(version), HttpVersionPolicy = policy };
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(host.Certificate!.RawData)];

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(HttpVersion.Version20, result.Response.HttpVersion);
        Assert.Equal(200, result.Response.StatusCode);
        Assert.Equal("CONNECT", Assert.Single(host.Requests).Method);
        await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_Http2OrLower_ServerWithoutHttp2_FallsBackToHttp11()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new Http11TlsServer();
        var logger = new CapturingLogger();
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(server.Certificate.RawData)];

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(server.Uri, options, logger, timeout.Token);

        Assert.Equal(HttpVersion.Version11, result.Response.HttpVersion);
        Assert.Equal(101, result.Response.StatusCode);
        Assert.Contains(server.Requests, r => r.Method == "GET" && r.Version == "HTTP/1.1");
        Assert.Contains(logger.Entries, e => e.EventId.Id == 109);
    }

    [Fact]
    public async Task ConnectAsync_Http2Exact_ServerRefusingAlpnH2_FailsWithTlsError()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new Http11TlsServer();
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(server.Certificate.RawData)];

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token));

        // This server answers an "h2"-only ALPN offer with a no_application_protocol alert (RFC 7301 §3.2).
        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
    }
}
