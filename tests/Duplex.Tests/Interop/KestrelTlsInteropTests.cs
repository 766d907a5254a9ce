using System.Net;
using System.Net.Http;
using System.Security.Cryptography.X509Certificates;
using Duplex.Handshake;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>
/// Kestrel over TLS (<c>wss://</c>) with a self-signed certificate the client trusts as its only root; HTTP/1.1 unless
/// a test asks for HTTP/2 (negotiated by ALPN).
/// </summary>
public sealed class KestrelTlsInteropTests(KestrelTlsFixture fixture)
    : KestrelInteropTests(fixture), IClassFixture<KestrelTlsFixture>
{
    /// <inheritdoc />
    protected override void ConfigureHandshake(WebSocketHandshakeOptions handshake) =>
        handshake.Tls.TrustedRootCertificates = [Host.Certificate!];

    [Fact]
    public async Task ConnectAsync_Http2RequestedOverTls_NegotiatesHttp2AndEchoes()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token, options =>
        {
            options.Handshake.HttpVersion = HttpVersion.Version20;
            options.Handshake.HttpVersionPolicy = HttpVersionPolicy.RequestVersionOrLower;
        });

        Assert.Equal(HttpVersion.Version20, connection.HandshakeResponse!.HttpVersion);
        await connection.SendTextAsync("over h2", timeout.Token);
        Assert.Equal("over h2", (await connection.ReceiveMessageAsync(timeout.Token)).Text);
    }

    [Fact]
    public async Task ConnectAsync_CertificateNotTrusted_FailsWithoutOpening()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var untrusted = LoopbackCertificate.Create();

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(() => ConnectAsync(
            EchoUri, timeout.Token, options => options.Handshake.Tls.TrustedRootCertificates = [untrusted]));

        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
    }
}
