using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Duplex.Handshake;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Handshake;

/// <summary>
/// <c>wss://</c> against Kestrel with a self-signed certificate: validation on by default, each way
/// to trust, client certificates. Every transport must pass these; one derived class per transport.
/// </summary>
public abstract class TransportTlsTests
{
    private IWebSocketTransport? _transport;

    /// <summary>The transport under test, one per test.</summary>
    private protected IWebSocketTransport Transport => _transport ??= CreateTransport();

    /// <summary>Creates the transport under test.</summary>
    private protected abstract IWebSocketTransport CreateTransport();

    [Fact]
    public async Task ConnectAsync_SelfSignedCertificate_FailsWithTlsErrorByDefault()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(host.GetUri("/echo"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
        Assert.Contains($"127.0.0.1:{host.Port}", exception.Message, StringComparison.Ordinal);
        Assert.NotNull(FindInner<AuthenticationException>(exception));
        Assert.Equal(WebSocketTlsFailure.UntrustedRoot, exception.TlsFailure);
        Assert.Contains("root that is not trusted", exception.Message, StringComparison.Ordinal);
        Assert.True(exception.CertificateErrors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.True(exception.CertificateChainStatus.HasFlag(X509ChainStatusFlags.UntrustedRoot));
    }

    public static TheoryData<string> RefusedCertificates => ["expired", "not-yet-valid", "name-mismatch", "callback"];

    [Theory]
    [MemberData(nameof(RefusedCertificates))]
    public async Task ConnectAsync_CertificateRefused_TheErrorNamesTheReason(string problem)
    {
        using var timeout = TestTimeouts.CreateSource();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        X509Certificate2 certificate = problem switch
        {
            "expired" => LoopbackCertificate.Create(now.AddDays(-30), now.AddDays(-1)),
            "not-yet-valid" => LoopbackCertificate.Create(now.AddDays(1), now.AddDays(30)),
            _ => LoopbackCertificate.Create(),
        };
        await using var server = new Http11TlsServer(certificate: certificate);
        var options = new WebSocketHandshakeOptions();

        // Trusted as a root, so that the one problem left is the one under test.
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(certificate.RawData)];
        if (problem == "name-mismatch")
        {
            options.Tls.TargetHost = "wrong.example";
        }
        else if (problem == "callback")
        {
            options.Tls.RemoteCertificateValidationCallback = (_, _, _, _) => false;
        }

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.Tls, exception.Error);
        (WebSocketTlsFailure expected, string words) = problem switch
        {
            "expired" => (WebSocketTlsFailure.Expired, "it expired at"),
            "not-yet-valid" => (WebSocketTlsFailure.NotYetValid, "it is not valid before"),
            "name-mismatch" => (WebSocketTlsFailure.NameMismatch, "does not name the host"),
            _ => (WebSocketTlsFailure.RejectedByCallback, "validation callback refused it"),
        };
        Assert.Equal(expected, exception.TlsFailure);
        Assert.Contains(words, exception.Message, StringComparison.Ordinal);
        Assert.Contains(server.Uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_CertificateTrustedAsCustomRoot_Succeeds()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var options = new WebSocketHandshakeOptions();
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(host.Certificate!.RawData)];

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal("wss", result.Response.Uri.Scheme);
        Assert.Equal(HttpVersion.Version11, result.Response.HttpVersion);
        await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_CustomRootTrustedButDisposedByCaller_StillWorksOnTheNextConnect()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        IWebSocketTransport transport = Transport;

        for (int i = 0; i < 2; i++)
        {
            using X509Certificate2 root = X509CertificateLoader.LoadCertificate(host.Certificate!.RawData);
            var options = new WebSocketHandshakeOptions();
            options.Tls.TrustedRootCertificates = [root];
            await using WebSocketHandshakeResult result = await transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);
            await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
        }
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
            () => Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token));

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

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(SslPolicyErrors.RemoteCertificateChainErrors, seen);
        await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_ValidationCallbackRefusing_FailsWithTlsError()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        var options = new WebSocketHandshakeOptions();
        options.Tls.RemoteCertificateValidationCallback = (_, _, _, _) => false;

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token));

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
        IWebSocketTransport transport = Transport;

        await using (WebSocketHandshakeResult first = await transport.ConnectAsync(host.GetUri("/echo?token=abc"), options, logger, timeout.Token))
        {
            await TransportKestrelTests.AssertEchoesAsync(first.Stream, null, timeout.Token);
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

    [Fact]
    public async Task ConnectAsync_TargetHost_IsUsedForTheCertificateNameAndHostHeader()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Tls, timeout.Token);
        IWebSocketTransport transport = Transport;
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
    public async Task ConnectAsync_ClientCertificate_IsPresentedToAServerThatAsks()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new Http11TlsServer(requireClientCertificate: true);
        using X509Certificate2 client = LoopbackCertificate.Create();
        var options = new WebSocketHandshakeOptions();
        options.Tls.TrustedRootCertificates = [X509CertificateLoader.LoadCertificate(server.Certificate.RawData)];
        options.Tls.ClientCertificates = [client];

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token);

        Assert.Equal(client.Thumbprint, Assert.Single(server.ClientCertificates)?.Thumbprint);
    }

    /// <summary>The first exception of type <typeparamref name="T"/> in the chain of inner exceptions.</summary>
    private static T? FindInner<T>(Exception? exception)
        where T : Exception
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is T match)
            {
                return match;
            }
        }

        return null;
    }
}
