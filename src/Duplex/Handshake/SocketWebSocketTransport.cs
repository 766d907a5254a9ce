using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Duplex.Diagnostics;
using Duplex.Handshake.Rules;
using Microsoft.Extensions.Logging;

namespace Duplex.Handshake;

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
/// <see cref="OpeningHandshake"/>'s, the same as for <see cref="HttpWebSocketTransport"/>.
/// </para>
/// <para>
/// It handles what <see cref="WebSocketTransportSelector"/> gives it: plain HTTP/1.1 straight to
/// the server. A request it cannot make the way SocketsHttpHandler would — through a proxy, over
/// HTTP/2, with a connect callback or the caller's invoker — it hands to the HTTP transport; that
/// happens when a followed redirect leads to such a target.
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

    private readonly HttpWebSocketTransport _fallback;
    private readonly TimeProvider _timeProvider;
    private readonly IWebProxy? _defaultProxy;
    private readonly ConcurrentDictionary<(string Roots, X509RevocationMode Revocation), X509ChainPolicy> _chainPolicies = new();

    /// <summary>Creates a transport.</summary>
    /// <param name="fallback">Makes the requests this transport cannot; <see cref="HttpWebSocketTransport.Default"/> when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for the open timeout and <c>Retry-After</c> dates; the system clock when <see langword="null"/>.</param>
    /// <param name="defaultProxy">The environment's proxy; <see cref="HttpClient.DefaultProxy"/> (read at each connect) when <see langword="null"/>.</param>
    internal SocketWebSocketTransport(HttpWebSocketTransport? fallback = null, TimeProvider? timeProvider = null, IWebProxy? defaultProxy = null)
    {
        _fallback = fallback ?? HttpWebSocketTransport.Default;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _defaultProxy = defaultProxy;
    }

    /// <summary>The process-wide transport.</summary>
    public static SocketWebSocketTransport Default { get; } = new();

    /// <summary>How many trusted-root chain policies are kept for sharing.</summary>
    internal int SharedChainPolicyCount => _chainPolicies.Count;

    /// <inheritdoc />
    public async Task<WebSocketHandshakeResult> ConnectAsync(Uri uri, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(logger);
        options = OpeningHandshake.Snapshot(uri, options, cancellationToken);
        using var sender = new Sender(this);
        return await OpeningHandshake.RunAsync(sender, uri, options, logger, _timeProvider, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens a TCP connection, with TCP_NODELAY as asked. A dual-mode socket with a
    /// <see cref="DnsEndPoint"/> resolves the name and tries every address it resolves to, IPv6 and
    /// IPv4, in order.
    /// </summary>
    /// <remarks>
    /// The connect runs on event args of its own, disposed afterwards: <see cref="Socket.ConnectAsync(EndPoint, CancellationToken)"/>
    /// would use the socket's cached receive args, which then keep the endpoint and the
    /// cancellation token (with everything linked to it) for as long as the connection lives.
    /// </remarks>
    internal static async ValueTask<Socket> ConnectSocketAsync(DnsEndPoint endPoint, bool noDelay, CancellationToken cancellationToken)
    {
        // RFC 6761 §6.4: names under "invalid." never resolve, and resolution APIs should say so at
        // once rather than ask DNS.
        if (endPoint.Host.EndsWith(".invalid", StringComparison.OrdinalIgnoreCase) ||
            endPoint.Host.EndsWith(".invalid.", StringComparison.OrdinalIgnoreCase))
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = noDelay };
        try
        {
            using var connect = new ConnectEventArgs { RemoteEndPoint = endPoint };
            if (socket.ConnectAsync(connect))
            {
                using (cancellationToken.UnsafeRegister(static args => Socket.CancelConnectAsync((SocketAsyncEventArgs)args!), connect))
                {
                    await connect.Completion.ConfigureAwait(false);
                }
            }
            else
            {
                connect.Complete();
                await connect.Completion.ConfigureAwait(false);
            }

            return socket;
        }
        catch (Exception exception)
        {
            socket.Dispose();
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("The connect was canceled.", exception, cancellationToken);
            }

            throw;
        }
    }

    /// <summary>
    /// Connects, upgrades to TLS for <c>https</c>, writes the upgrade request and reads the response
    /// head: one request to one URI.
    /// </summary>
    private async Task<HandshakeExchange> SendAsync(
        Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            Log.HandshakeConnecting(logger, Redaction.Uri(WebSocketUriRules.ToWebSocketUri(uri)), "1.1");
        }

        Socket socket = await ConnectSocketAsync(new DnsEndPoint(uri.IdnHost, uri.Port), options.NoDelay, cancellationToken).ConfigureAwait(false);
        Stream stream = new NetworkStream(socket, ownsSocket: true);

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
            return await Exchange.ReadAsync(stream, uri, options, WebSocketKey.ComputeAccept(key), abort).ConfigureAwait(false);
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

    /// <summary>
    /// RFC 6455 §4.1: writes <c>GET {path} HTTP/1.1</c>, <c>Host</c>, the caller's headers and the
    /// handshake's own, in one write.
    /// </summary>
    private static async Task WriteRequestAsync(
        Stream stream, Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, string key, ILogger logger)
    {
        bool trace = logger.IsEnabled(LogLevel.Trace);
        var request = new StringBuilder(256);
        request.Append("GET ").Append(uri.PathAndQuery).Append(" HTTP/1.1\r\n");
        AppendHeader(request, "Host", GetHostHeader(uri, options.Tls.TargetHost), logger, trace);
        foreach (KeyValuePair<string, string> header in headers)
        {
            AppendHeader(request, header.Key, header.Value, logger, trace);
        }

        foreach (KeyValuePair<string, string> header in HandshakeHeaders.Get(key, options.SubProtocols, options.ExtensionOffers))
        {
            AppendHeader(request, header.Key, header.Value, logger, trace);
        }

        request.Append("\r\n");

        // Names are tokens and values printable ASCII (validated), the path and host are escaped by Uri.
        byte[] bytes = ArrayPool<byte>.Shared.Rent(Encoding.ASCII.GetMaxByteCount(request.Length));
        try
        {
            int length = Encoding.ASCII.GetBytes(request.ToString(), bytes);
            await stream.WriteAsync(bytes.AsMemory(0, length)).ConfigureAwait(false);
            await stream.FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }

        static void AppendHeader(StringBuilder request, string name, string value, ILogger logger, bool trace)
        {
            request.Append(name).Append(": ").Append(value).Append("\r\n");
            if (trace)
            {
                Log.HandshakeRequestHeader(logger, name, Redaction.HeaderValue(name, value));
            }
        }
    }

    /// <summary>
    /// RFC 9110 §7.2: the host, in brackets when it is an IPv6 address (without a zone), and the port
    /// when it is not the scheme's default; <see cref="WebSocketTlsOptions.TargetHost"/> replaces the
    /// host when set, as with SocketsHttpHandler.
    /// </summary>
    internal static string GetHostHeader(Uri uri, string? targetHost)
    {
        string host = targetHost ?? uri.IdnHost;
        if (targetHost is null && uri.HostNameType == UriHostNameType.IPv6)
        {
            int zone = host.IndexOf('%', StringComparison.Ordinal);
            host = "[" + (zone < 0 ? host : host[..zone]) + "]";
        }

        return uri.IsDefaultPort ? host : host + ":" + uri.Port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The sender for one connect: this transport for what it can do, the HTTP transport for any hop
    /// that needs a proxy, HTTP/2, a connect callback or the caller's invoker.
    /// </summary>
    private sealed class Sender(SocketWebSocketTransport transport) : IHandshakeSender, IDisposable
    {
        private HttpWebSocketTransport.Sender? _http;

        public Task<HandshakeExchange> SendAsync(
            Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
        {
            if (WebSocketTransportSelector.CanUseSocketTransport(uri, options, transport._defaultProxy ?? HttpClient.DefaultProxy))
            {
                return transport.SendAsync(uri, headers, options, logger, cancellationToken);
            }

            _http ??= transport._fallback.CreateSender(options);
            return _http.SendAsync(uri, headers, options, logger, cancellationToken);
        }

        public void Dispose() => _http?.Dispose();
    }

    /// <summary>Event args for one connect, completing a task.</summary>
    private sealed class ConnectEventArgs() : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Completion => _completion.Task;

        /// <summary>Completes <see cref="Completion"/> with the outcome of the connect.</summary>
        public void Complete()
        {
            if (SocketError == SocketError.Success)
            {
                _completion.TrySetResult();
            }
            else
            {
                // A failed name resolution is reported with its own exception.
                _completion.TrySetException(ConnectByNameError ?? new SocketException((int)SocketError));
            }
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => Complete();
    }
}
