using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Duplex.Client;
using Duplex.Handshake;

namespace Duplex.Samples;

/// <summary>
/// TLS: <c>wss://</c> to a server whose certificate comes from a private CA, trusted explicitly
/// (validation stays on), presenting a client certificate, over HTTP/1.1 and over HTTP/2.
/// </summary>
internal static class TlsSample
{
    public static async Task RunAsync(SampleServer server, CancellationToken cancellationToken)
    {
        using X509Certificate2 clientCertificate = CreateClientCertificate();
        foreach (Version version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
        {
            var options = new WebSocketClientOptions();
            options.Connection.Handshake.HttpVersion = version;
            options.Connection.Handshake.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
            var tls = new WebSocketTlsOptions
            {
                TrustedRootCertificates = [server.CertificateAuthority],
                ClientCertificates = [clientCertificate],
            };

            await using var client = new WebSocketClient(options);
            var greeting = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            client.OnMessage((message, ct) => { greeting.TrySetResult(message.Text!); return ValueTask.CompletedTask; });
            await client.ConnectAsync(server.Wss("/tls"), tls: tls, cancellationToken: cancellationToken);
            Console.WriteLine($"  {await greeting.Task.WaitAsync(cancellationToken)}");
            await client.CloseAsync(cancellationToken: cancellationToken);
        }

        // Without trusting the CA, validation refuses the server: secure by default.
        await using var untrusting = new WebSocketClient();
        try
        {
            await untrusting.ConnectAsync(server.Wss("/tls"), cancellationToken: cancellationToken);
        }
        catch (Duplex.WebSocketConnectException ex) when (ex.Error == Duplex.WebSocketConnectError.Tls)
        {
            Console.WriteLine($"  without the CA: {ex.Error} error, as expected");
        }
    }

    private static X509Certificate2 CreateClientCertificate()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=sample-client", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
