using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// A TLS server on 127.0.0.1 that offers only HTTP/1.1 by ALPN and answers every WebSocket upgrade
/// with a correct 101: for the HTTP/2 fallback paths, and to see what the client offered (ALPN,
/// client certificate).
/// </summary>
public sealed class Http11TlsServer : IAsyncDisposable
{
    private readonly LoopbackListener _listener = new();
    private readonly CancellationTokenSource _stop = new(TestTimeouts.Default);
    private readonly List<RawHttpRequest> _requests = [];
    private readonly List<SslApplicationProtocol> _negotiated = [];
    private readonly List<X509Certificate2?> _clientCertificates = [];
    private readonly bool _requireClientCertificate;
    private readonly List<IDisposable> _connections = [];
    private readonly Lock _lock = new();
    private readonly Task _acceptLoop;

    /// <summary>Starts listening on an OS-chosen port with a fresh self-signed certificate.</summary>
    /// <param name="requireClientCertificate">Whether the server asks for a client certificate (and accepts any).</param>
    /// <param name="certificate">The server's certificate; null for a fresh self-signed one.</param>
    public Http11TlsServer(bool requireClientCertificate = false, X509Certificate2? certificate = null)
    {
        _requireClientCertificate = requireClientCertificate;
        Certificate = certificate ?? LoopbackCertificate.Create();
        Uri = new Uri($"wss://127.0.0.1:{_listener.Port}/fallback");
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The server certificate, its own root.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary><c>wss://127.0.0.1:{port}/fallback</c>.</summary>
    public Uri Uri { get; }

    /// <summary>The ALPN protocol of every completed TLS handshake (default when the client offered none).</summary>
    public IReadOnlyList<SslApplicationProtocol> NegotiatedProtocols
    {
        get
        {
            lock (_lock)
            {
                return [.. _negotiated];
            }
        }
    }

    /// <summary>The certificate every client presented, <see langword="null"/> for none.</summary>
    public IReadOnlyList<X509Certificate2?> ClientCertificates
    {
        get
        {
            lock (_lock)
            {
                return [.. _clientCertificates];
            }
        }
    }

    /// <summary>Every request head received.</summary>
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

    /// <summary>Stops listening and closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        lock (_lock)
        {
            _connections.ForEach(c => c.Dispose());
        }

        _stop.Dispose();
        Certificate.Dispose();
        foreach (X509Certificate2? certificate in ClientCertificates)
        {
            certificate?.Dispose();
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (true)
            {
                TcpClient client = await _listener.AcceptAsync(_stop.Token);
                lock (_lock)
                {
                    _connections.Add(client);
                }

                _ = ServeAsync(client);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Stopped (a listener stopped between two accepts says "not listening").
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
                    ClientCertificateRequired = _requireClientCertificate,
                    RemoteCertificateValidationCallback = (_, _, _, _) => true,
                },
                _stop.Token);
            lock (_lock)
            {
                _negotiated.Add(tls.NegotiatedApplicationProtocol);
                _clientCertificates.Add(tls.RemoteCertificate is { } remote ? X509CertificateLoader.LoadCertificate(remote.GetRawCertData()) : null);
            }

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
