using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Duplex.Diagnostics;
using Duplex.Handshake.Rules;
using Microsoft.Extensions.Logging;

namespace Duplex.Handshake.Transports;

/// <summary>
/// Opens WebSockets over a bare <see cref="Socket"/> (and an <see cref="SslStream"/> for
/// <c>wss://</c>) with an HTTP/1.1 upgrade of its own: the request is written and the response head
/// read here, strictly and within <see cref="WebSocketHandshakeOptions.MaxResponseHeadersBytes"/>.
/// What stays alive per connection is the socket, its stream and the handshake's answer, which
/// keeps idle connections small; nothing of an HTTP connection pool is kept.
/// </summary>
/// <remarks>
/// <para>
/// Thread-safe; <see cref="Default"/> serves the whole process. The rules of the handshake
/// (validation, redirects, rejections, the open timeout, error classification) are
/// <see cref="OpeningHandshake"/>'s, the same for every transport.
/// </para>
/// <para>
/// It makes every request it is given straight to the server over HTTP/1.1: it knows nothing of
/// proxies, HTTP/2, connect callbacks or the caller's invoker. Which requests it is given — the
/// first, and each redirect — is <see cref="WebSocketTransportSelector"/>'s decision alone.
/// </para>
/// </remarks>
internal sealed partial class SocketWebSocketTransport : IWebSocketTransport
{
    /// <summary>The most distinct trusted-root chain policies kept for sharing between connections.</summary>
    public const int MaxSharedChainPolicies = 32;

    /// <summary>The size of the buffer the response head is first read into (grown up to the header limit when needed).</summary>
    internal const int InitialReadBufferBytes = 4096;

    // RFC 7301 ALPN: this transport speaks HTTP/1.1 only. Shared, never changed.
    private static readonly List<SslApplicationProtocol> s_http11 = [SslApplicationProtocol.Http11];

    private readonly TimeProvider _timeProvider;
    private readonly bool _blocking;
    private readonly ConcurrentDictionary<(string Roots, X509RevocationMode Revocation), X509ChainPolicy> _chainPolicies = new();

    /// <summary>Creates a transport.</summary>
    /// <param name="timeProvider">The clock for the open timeout and <c>Retry-After</c> dates; the system clock when <see langword="null"/>.</param>
    /// <param name="blocking">
    /// Whether each connection's socket is used with blocking calls only, from connect to close
    /// (<see cref="BlockingNetworkStream"/>): each request is then made on a thread of its own.
    /// </param>
    internal SocketWebSocketTransport(TimeProvider? timeProvider = null, bool blocking = false)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
        _blocking = blocking;
    }

    /// <summary>The process-wide transport.</summary>
    public static SocketWebSocketTransport Default { get; } = new();

    /// <summary>The process-wide transport whose sockets see blocking calls only.</summary>
    public static SocketWebSocketTransport Blocking { get; } = new(blocking: true);

    /// <summary>How many trusted-root chain policies are kept for sharing.</summary>
    internal int SharedChainPolicyCount => _chainPolicies.Count;

    /// <inheritdoc />
    public async Task<WebSocketHandshakeResult> ConnectAsync(Uri uri, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(logger);
        options = OpeningHandshake.Snapshot(uri, options, cancellationToken);
        using IHandshakeSender sender = CreateSender();
        return await OpeningHandshake.RunAsync(sender, uri, options, logger, _timeProvider, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A sender for one connect: each request straight to its server over a socket of its own.</summary>
    internal IHandshakeSender CreateSender() => new Sender(this);

    /// <summary>
    /// Connects, upgrades to TLS for <c>https</c>, writes the upgrade request and reads the response
    /// head: one request to one URI.
    /// </summary>
    private Task<HandshakeExchange> SendAsync(
        Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        if (!_blocking)
        {
            return SendOnSocketAsync(uri, headers, options, logger, cancellationToken);
        }

        // Every call below blocks (the stream completes synchronously): off the caller's thread, onto one
        // of the request's own rather than a pool worker's.
        return Task.Factory.StartNew(
            () => SendOnSocketAsync(uri, headers, options, logger, cancellationToken),
            CancellationToken.None,
            TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach,
            TaskScheduler.Default).Unwrap();
    }

    private async Task<HandshakeExchange> SendOnSocketAsync(
        Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            Log.HandshakeConnecting(logger, Redaction.Uri(WebSocketUriRules.ToWebSocketUri(uri)), "1.1");
        }

        var endPoint = new DnsEndPoint(uri.IdnHost, uri.Port);
        Stream stream = _blocking
            ? new BlockingNetworkStream(TcpConnector.Connect(endPoint, options.NoDelay, cancellationToken))
            : new NetworkStream(await TcpConnector.ConnectAsync(endPoint, options.NoDelay, cancellationToken).ConfigureAwait(false), ownsSocket: true);
        Socket socket = ((NetworkStream)stream).Socket;

        // The handshake's I/O runs without a token: the socket's cached event args keep the token of
        // their last operation, which would keep the handshake's token sources alive for the life of
        // an idle connection. Cancellation closes the socket instead, which ends any pending I/O.
        CancellationTokenRegistration abort = cancellationToken.UnsafeRegister(static socket => ((Socket)socket!).Dispose(), socket);
        try
        {
            if (WebSocketUriRules.IsSecure(uri))
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsClientAsync(CreateSslOptions(uri, options.Tls), CancellationToken.None).ConfigureAwait(false);
            }

            string key = WebSocketKey.Create();
            await WriteRequestAsync(stream, uri, headers, options, key, logger).ConfigureAwait(false);
            Exchange exchange = await Exchange.ReadAsync(stream, uri, options, WebSocketKey.ComputeAccept(key), abort).ConfigureAwait(false);
            exchange.Blocking = _blocking;
            return exchange;
        }
        catch (Exception exception)
        {
            await abort.DisposeAsync().ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The WebSocket handshake was canceled.", exception, cancellationToken);
            }

            throw;
        }
    }

    /// <summary>
    /// The TLS client options for one connection, configured by <see cref="WebSocketTlsOptions.ApplyTo"/>
    /// exactly as SocketsHttpHandler's are, plus the server name and ALPN <c>http/1.1</c>.
    /// </summary>
    private SslClientAuthenticationOptions CreateSslOptions(Uri uri, WebSocketTlsOptions tls)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            // SNI and the certificate's name check; SslStream sends no SNI for an IP address.
            TargetHost = tls.TargetHost ?? uri.IdnHost,
            ApplicationProtocols = s_http11,
        };
        tls.ApplyTo(ssl, GetChainPolicy(tls));
        return ssl;
    }

    /// <summary>
    /// The chain policy for the trusted roots, shared by every connection that trusts the same roots
    /// (an <see cref="SslStream"/> keeps its policy for its lifetime, and certificates are not small).
    /// </summary>
    private X509ChainPolicy? GetChainPolicy(WebSocketTlsOptions tls)
    {
        if (tls.TrustedRootCertificates is not { Count: > 0 })
        {
            return null;
        }

        (string, X509RevocationMode) key = (tls.TrustedRootsKey, tls.CertificateRevocationCheckMode);
        if (_chainPolicies.TryGetValue(key, out X509ChainPolicy? shared))
        {
            return shared;
        }

        X509ChainPolicy policy = tls.CreateChainPolicy()!;
        return _chainPolicies.Count < MaxSharedChainPolicies ? _chainPolicies.GetOrAdd(key, policy) : policy;
    }

    /// <summary>RFC 6455 §4.1: writes the upgrade request (<see cref="Http11UpgradeRequest"/>) in one write.</summary>
    private static async Task WriteRequestAsync(
        Stream stream, Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, string key, ILogger logger)
    {
        if (logger.IsEnabled(LogLevel.Trace))
        {
            foreach (KeyValuePair<string, string> header in Http11UpgradeRequest.GetHeaders(uri, headers, options, key))
            {
                Log.HandshakeRequestHeader(logger, header.Key, Redaction.HeaderValue(header.Key, header.Value));
            }
        }

        string request = Http11UpgradeRequest.Format(uri, headers, options, key);
        byte[] bytes = ArrayPool<byte>.Shared.Rent(Encoding.ASCII.GetMaxByteCount(request.Length));
        try
        {
            int length = Encoding.ASCII.GetBytes(request, bytes);
            await stream.WriteAsync(bytes.AsMemory(0, length)).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>The sender for one connect; it holds nothing of its own, each request opens its socket.</summary>
    private sealed class Sender(SocketWebSocketTransport transport) : IHandshakeSender
    {
        public Task<HandshakeExchange> SendAsync(
            Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken) =>
            transport.SendAsync(uri, headers, options, logger, cancellationToken);

        public void Dispose()
        {
        }
    }
}
