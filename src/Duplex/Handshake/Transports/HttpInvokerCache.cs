using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Duplex.Handshake.Transports;

/// <summary>
/// Decides which <see cref="HttpMessageInvoker"/> a connect goes through, and builds the
/// <see cref="SocketsHttpHandler"/> behind it.
/// </summary>
/// <remarks>
/// <para>
/// Connects whose options hold only values (timeouts, limits, flags, trusted root certificates
/// compared by content) share one handler per distinct combination, so HTTP/2 WebSockets to one
/// server multiplex over one connection and handlers are not created per connect. Options that hold
/// objects with their own identity and lifetime — a certificate validation callback, client
/// certificates (private keys), an explicit proxy, a connect callback — get a handler of their own
/// that the connection owns. The number of shared handlers is capped; past the cap, connects get
/// their own handler too, so a shared handler is never evicted (and disposed) while in use.
/// </para>
/// <para>Thread-safe.</para>
/// </remarks>
internal sealed class HttpInvokerCache
{
    /// <summary>The most distinct shared handlers kept.</summary>
    public const int MaxSharedHandlers = 32;

    /// <summary>
    /// How long a pooled connection is reused before a fresh one (and a fresh DNS lookup) is made.
    /// Upgraded HTTP/1.1 connections leave the pool, so this affects rejected handshakes and HTTP/2.
    /// </summary>
    public static readonly TimeSpan PooledConnectionLifetime = TimeSpan.FromMinutes(2);

    private readonly Dictionary<HandlerKey, HttpMessageInvoker> _shared = [];
    private readonly Lock _lock = new();

    /// <summary>How many shared handlers exist.</summary>
    public int SharedCount
    {
        get
        {
            lock (_lock)
            {
                return _shared.Count;
            }
        }
    }

    /// <summary>The invoker for a connect with these (validated, snapshotted) options.</summary>
    /// <param name="options">The options of the connect.</param>
    /// <param name="owned">
    /// <see langword="true"/> when the invoker was created for this connect alone and the caller must
    /// dispose it; <see langword="false"/> when it is shared or the caller's own.
    /// </param>
    public HttpMessageInvoker Get(WebSocketHandshakeOptions options, out bool owned)
    {
        if (options.HttpMessageInvoker is { } custom)
        {
            owned = false;
            return custom;
        }

        if (TryGetKey(options, out HandlerKey key))
        {
            lock (_lock)
            {
                if (_shared.TryGetValue(key, out HttpMessageInvoker? shared))
                {
                    owned = false;
                    return shared;
                }

                if (_shared.Count < MaxSharedHandlers)
                {
                    shared = new HttpMessageInvoker(CreateHandler(options), disposeHandler: true);
                    _shared.Add(key, shared);
                    owned = false;
                    return shared;
                }
            }
        }

        owned = true;
        return new HttpMessageInvoker(CreateHandler(options), disposeHandler: true);
    }

    /// <summary>A handler configured from the options.</summary>
    internal static SocketsHttpHandler CreateHandler(WebSocketHandshakeOptions options)
    {
        bool noDelay = options.NoDelay;
        var handler = new SocketsHttpHandler
        {
            // The handshake is one request; cookies, redirects and decompression are ours or not wanted.
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = PooledConnectionLifetime,

            // SocketsHttpHandler counts this limit in KiB.
            MaxResponseHeadersLength = (int)Math.Min(int.MaxValue, ((long)options.MaxResponseHeadersBytes + 1023) / 1024),

            // Many HTTP/2 WebSockets to one server must not queue behind SETTINGS_MAX_CONCURRENT_STREAMS.
            EnableMultipleHttp2Connections = true,
            UseProxy = options.UseProxy,
            ConnectCallback = options.ConnectCallback ??
                (noDelay ? s_connectWithNoDelay : s_connectWithDelay),
        };

        if (options.UseProxy && options.Proxy is not null)
        {
            handler.Proxy = options.Proxy;
        }

        options.Tls.ApplyTo(handler.SslOptions, options.Tls.CreateChainPolicy());
        return handler;
    }

    private static readonly Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> s_connectWithNoDelay =
        (context, cancellationToken) => ConnectSocketAsync(context.DnsEndPoint, noDelay: true, cancellationToken);

    private static readonly Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> s_connectWithDelay =
        (context, cancellationToken) => ConnectSocketAsync(context.DnsEndPoint, noDelay: false, cancellationToken);

    /// <summary>Opens a TCP connection through <see cref="TcpConnector"/>, as a stream that owns the socket.</summary>
    internal static async ValueTask<Stream> ConnectSocketAsync(DnsEndPoint endPoint, bool noDelay, CancellationToken cancellationToken)
    {
        Socket socket = await TcpConnector.ConnectAsync(endPoint, noDelay, cancellationToken).ConfigureAwait(false);
        return new NetworkStream(socket, ownsSocket: true);
    }

    /// <summary>The values that shape a handler, when the options hold nothing but values.</summary>
    private static bool TryGetKey(WebSocketHandshakeOptions options, out HandlerKey key)
    {
        WebSocketTlsOptions tls = options.Tls;
        if (options.ConnectCallback is not null ||
            options.Proxy is not null ||
            tls.RemoteCertificateValidationCallback is not null ||
            tls.ClientCertificates is { Count: > 0 })
        {
            key = default;
            return false;
        }

        key = new HandlerKey(
            options.MaxResponseHeadersBytes,
            options.NoDelay,
            options.UseProxy,
            tls.EnabledProtocols,
            tls.CertificateRevocationCheckMode,
            tls.AcceptAnyCertificate,
            tls.TrustedRootsKey);
        return true;
    }

    private readonly record struct HandlerKey(
        int MaxResponseHeadersBytes,
        bool NoDelay,
        bool UseProxy,
        SslProtocols EnabledProtocols,
        X509RevocationMode RevocationMode,
        bool AcceptAnyCertificate,
        string TrustedRoots);
}
