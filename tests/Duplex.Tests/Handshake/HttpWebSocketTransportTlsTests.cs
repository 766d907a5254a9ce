using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Duplex.Handshake;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Handshake;

/// <summary><c>wss://</c> against Kestrel with a self-signed certificate: validation on by default, and each way to trust.</summary>
public sealed class HttpWebSocketTransportTlsTests
{
    [Fact]
    public async Task ConnectAsync_SelfSignedCertificate_FailsWithTlsErrorByDefault()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => new HttpWebSocketTransport().ConnectAsync(host.GetUri("/echo"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
        Assert.Contains($"127.0.0.1:{host.Port}", exception.Message, StringComparison.Ordinal);
        Assert.IsType<HttpRequestException>(exception.InnerException);
    }

    [Fact]
    public async Task ConnectAsync_CertificateTrustedAsCustomRoot_Succeeds()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var options = new WebSocketHandshakeOptions();
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(host.Certificate!.RawData)];

        await using WebSocketHandshakeResult result = await new HttpWebSocketTransport().ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal("wss", result.Response.Uri.Scheme);
        Assert.Equal(HttpVersion.Version11, result.Response.HttpVersion);
        await HttpWebSocketTransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_CustomRootTrustedButDisposedByCaller_StillWorksOnSharedHandler()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var transport = new HttpWebSocketTransport();

        for (int i = 0; i < 2; i++)
        {
            using X509Certificate2 root = X509CertificateLoader.LoadCertificate(host.Certificate!.RawData);
            var options = new WebSocketHandshakeOptions();
            options.Tls.TrustedRootCertificates = [root];
            await using WebSocketHandshakeResult result = await transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);
        }

        Assert.Equal(1, transport.Invokers.SharedCount);
    }

    [Fact]
    public async Task ConnectAsync_CustomRootOfAnotherCa_FailsWithTlsError()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        using X509Certificate2 other = LoopbackCertificate.Create();
        var options = new WebSocketHandshakeOptions();
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(other.RawData)];

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => new HttpWebSocketTransport().ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
    }

    [Fact]
    public async Task ConnectAsync_ValidationCallbackPinningTheCertificate_Succeeds_AndSeesTheChainError()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        string pinned = host.Certificate!.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256);
        SslPolicyErrors seen = SslPolicyErrors.None;
        var options = new WebSocketHandshakeOptions();
        options.Tls.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            seen = errors;
            return certificate is not null &&
                certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256) == pinned;
        };

        await using WebSocketHandshakeResult result = await new HttpWebSocketTransport().ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(SslPolicyErrors.RemoteCertificateChainErrors, seen);
        await HttpWebSocketTransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_ValidationCallbackRefusing_FailsWithTlsError()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var options = new WebSocketHandshakeOptions();
        options.Tls.RemoteCertificateValidationCallback = (_, _, _, _) => false;

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => new HttpWebSocketTransport().ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
    }

    [Fact]
    public async Task ConnectAsync_AcceptAnyCertificate_Succeeds_AndWarnsAtEveryConnect()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var options = new WebSocketHandshakeOptions();
        options.Tls.AcceptAnyCertificate = true;
        var logger = new CapturingLogger();
        var transport = new HttpWebSocketTransport();

        await using (WebSocketHandshakeResult first = await transport.ConnectAsync(host.GetUri("/echo?token=abc"), options, logger, timeout.Token))
        {
            await HttpWebSocketTransportKestrelTests.AssertEchoesAsync(first.Stream, null, timeout.Token);
        }

        await using (await transport.ConnectAsync(host.GetUri("/echo"), options, logger, timeout.Token))
        {
        }

        LogEntry[] warnings = [.. logger.Entries.Where(e => e.Level == LogLevel.Warning)];
        Assert.Equal(2, warnings.Length);
        Assert.All(warnings, w => Assert.Equal(107, w.EventId.Id));
        Assert.Contains("AcceptAnyCertificate", warnings[0].Message, StringComparison.Ordinal);
        Assert.Contains("token=***", warnings[0].Message, StringComparison.Ordinal);
        Assert.DoesNotContain("abc", logger.AllText, StringComparison.Ordinal);
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

        await using WebSocketHandshakeResult result = await new HttpWebSocketTransport().ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(HttpVersion.Version20, result.Response.HttpVersion);
        Assert.Equal(200, result.Response.StatusCode);
        Assert.Equal("CONNECT", Assert.Single(host.Requests).Method);
        await HttpWebSocketTransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_TargetHost_IsUsedForTheCertificateNameAndHostHeader()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var transport = new HttpWebSocketTransport();
        var good = new WebSocketHandshakeOptions();
        good.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(host.Certificate!.RawData)];
        good.Tls.TargetHost = "localhost";
        var wrong = new WebSocketHandshakeOptions();
        wrong.Tls.TrustedRootCertificates = good.Tls.TrustedRootCertificates;
        wrong.Tls.TargetHost = "wrong.example";

        await using (await transport.ConnectAsync(host.GetUri("/echo"), good, new CapturingLogger(), timeout.Token))
        {
            Assert.Equal($"localhost:{host.Port}", Assert.Single(host.Requests).Headers["Host"]);
        }

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => transport.ConnectAsync(host.GetUri("/echo"), wrong, new CapturingLogger(), timeout.Token));
        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
    }

    [Fact]
    public async Task ConnectAsync_Http2OrLower_ServerWithoutHttp2_FallsBackToHttp11()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new Http11OnlyTlsServer();
        var logger = new CapturingLogger();
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(server.Certificate.RawData)];

        await using WebSocketHandshakeResult result = await new HttpWebSocketTransport().ConnectAsync(server.Uri, options, logger, timeout.Token);

        Assert.Equal(HttpVersion.Version11, result.Response.HttpVersion);
        Assert.Equal(101, result.Response.StatusCode);
        Assert.Contains(server.Requests, r => r.Method == "GET" && r.Version == "HTTP/1.1");
        Assert.Contains(logger.Entries, e => e.EventId.Id == 109);
    }

    [Fact]
    public async Task ConnectAsync_Http2Exact_ServerRefusingAlpnH2_FailsWithTlsError()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new Http11OnlyTlsServer();
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(server.Certificate.RawData)];

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => new HttpWebSocketTransport().ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token));

        // This server answers an "h2"-only ALPN offer with a no_application_protocol alert (RFC 7301 §3.2).
        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
    }

    /// <summary>
    /// A TLS server that offers only HTTP/1.1 by ALPN and answers every WebSocket upgrade with a
    /// correct 101, for the HTTP/2 fallback paths.
    /// </summary>
    private sealed class Http11OnlyTlsServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new(TestTimeouts.Default);
        private readonly List<RawHttpRequest> _requests = [];
        private readonly List<IDisposable> _connections = [];
        private readonly Lock _lock = new();
        private readonly Task _acceptLoop;

        public Http11OnlyTlsServer()
        {
            Certificate = LoopbackCertificate.Create();
            _listener.Start();
            Uri = new Uri($"wss://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/fallback");
            _acceptLoop = AcceptLoopAsync();
        }

        public X509Certificate2 Certificate { get; }

        public Uri Uri { get; }

        public IReadOnlyList<RawHttpRequest> Requests
        {
            get
            {
                lock (_lock)
                {
                    return [.. _requests];
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _acceptLoop;
            lock (_lock)
            {
                _connections.ForEach(c => c.Dispose());
            }

            _stop.Dispose();
            Certificate.Dispose();
        }

        private async Task AcceptLoopAsync()
        {
            try
            {
                while (true)
                {
                    TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                    lock (_lock)
                    {
                        _connections.Add(client);
                    }

                    _ = ServeAsync(client);
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopped.
            }
        }

        private async Task ServeAsync(TcpClient client)
        {
            try
            {
                var tls = new SslStream(client.GetStream());
                lock (_lock)
                {
                    _connections.Add(tls);
                }

                await tls.AuthenticateAsServerAsync(
                    new SslServerAuthenticationOptions
                    {
                        ServerCertificate = Certificate,
                        ApplicationProtocols = [SslApplicationProtocol.Http11],
                    },
                    _stop.Token);
                RawHttpRequest request = await RawHttpRequest.ReadAsync(tls, cancellationToken: _stop.Token);
                lock (_lock)
                {
                    _requests.Add(request);
                }

                string accept = WebSocketAcceptKey.Compute(request.SecWebSocketKey ?? string.Empty);
                await tls.WriteAsync(Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), _stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or IOException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
            {
                // The client gave up on this connection (for example after ALPN chose HTTP/1.1).
            }
        }
    }
}
