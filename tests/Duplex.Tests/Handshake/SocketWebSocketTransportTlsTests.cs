using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Duplex.Handshake;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Handshake;

/// <summary>The TLS scenarios through the socket transport's own <see cref="SslStream"/>, plus ALPN and the shared trust policy.</summary>
public sealed class SocketWebSocketTransportTlsTests : TransportTlsTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() => new WebSocketTransportSelector(new SocketWebSocketTransport(), new HttpWebSocketTransport());

    [Fact]
    public async Task ConnectAsync_OffersHttp11ByAlpn_AndTheStreamIsTheSslStream()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new Http11TlsServer();
        var options = new WebSocketHandshakeOptions();
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(server.Certificate.RawData)];

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token);

        Assert.Equal(SslApplicationProtocol.Http11, Assert.Single(server.NegotiatedProtocols));
        Assert.Equal(SslApplicationProtocol.Http11, Assert.IsType<SslStream>(result.Stream).NegotiatedApplicationProtocol);
        Assert.Equal(HttpVersion.Version11, result.Response.HttpVersion);
    }

    [Fact]
    public async Task ConnectAsync_Http2OrLowerOverTls_IsHandedToTheHttpTransport_WhichNegotiatesHttp2()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20 };
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(host.Certificate!.RawData)];

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(HttpVersion.Version20, result.Response.HttpVersion);
        await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_SameCustomRoot_SharesOneChainPolicy()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var transport = new SocketWebSocketTransport();

        for (int i = 0; i < 3; i++)
        {
            var options = new WebSocketHandshakeOptions();
            options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(host.Certificate!.RawData)];
            await using WebSocketHandshakeResult result = await transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);
        }

        Assert.Equal(1, transport.SharedChainPolicyCount);
    }
}
