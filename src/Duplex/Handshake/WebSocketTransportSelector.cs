using System.Net;
using System.Net.Http;
using Duplex.Handshake.Rules;
using Duplex.Handshake.Transports;
using Microsoft.Extensions.Logging;

namespace Duplex.Handshake;

/// <summary>
/// The one place that decides which transport makes a handshake request: the lean
/// <see cref="SocketWebSocketTransport"/> whenever the request is a plain HTTP/1.1 upgrade straight
/// to the server, and <see cref="HttpWebSocketTransport"/> (SocketsHttpHandler) for everything else.
/// Neither transport knows of the other; a connect that needs both (a redirect to a target the first
/// cannot reach) goes through this class, which hands each request to the one that can make it.
/// </summary>
/// <remarks>
/// <para>The socket transport is chosen when all of these hold:</para>
/// <list type="bullet">
/// <item>no <see cref="WebSocketHandshakeOptions.HttpMessageInvoker"/> (the caller's HTTP stack is theirs to use)
/// and no <see cref="WebSocketHandshakeOptions.ConnectCallback"/> (its context type can only be made by SocketsHttpHandler);</item>
/// <item>the handshake starts as an HTTP/1.1 upgrade (<see cref="HttpVersionRules.StartsWithHttp2"/> is false):
/// version 1.1 with any policy but <see cref="HttpVersionPolicy.RequestVersionOrHigher"/> on <c>wss://</c>, or
/// version 2.0 with <see cref="HttpVersionPolicy.RequestVersionOrLower"/> on <c>ws://</c> (cleartext HTTP/2 is
/// never tried without being required). HTTP/2 requested with <see cref="HttpVersionPolicy.RequestVersionExact"/>,
/// or on <c>wss://</c> where ALPN may pick it, goes through SocketsHttpHandler;</item>
/// <item>no proxy applies: <see cref="WebSocketHandshakeOptions.UseProxy"/> is false, or no explicit
/// <see cref="WebSocketHandshakeOptions.Proxy"/> is set and the environment's proxy
/// (<see cref="HttpClient.DefaultProxy"/>) bypasses the URI (<see cref="IWebProxy.IsBypassed"/>, or
/// <see cref="IWebProxy.GetProxy"/> returns nothing or the URI itself). A proxy that throws counts as applying.</item>
/// </list>
/// <para>
/// <see cref="Choose"/> applies the rule to the first request. When the socket transport can make
/// it, the connect runs through <see cref="Default"/>, which applies the same rule again to every
/// redirect target and hands a hop the socket transport cannot make (to a proxied host, or to
/// <c>wss://</c> where HTTP/2 is wanted) to the HTTP transport, so following redirects behaves as it
/// would with SocketsHttpHandler alone. When it cannot, the whole connect is the HTTP transport's.
/// </para>
/// <para>Thread-safe; one instance serves any number of concurrent connects.</para>
/// </remarks>
internal sealed class WebSocketTransportSelector : IWebSocketTransport
{
    private readonly SocketWebSocketTransport _socket;
    private readonly HttpWebSocketTransport _http;
    private readonly TimeProvider _timeProvider;
    private readonly IWebProxy? _defaultProxy;

    /// <summary>Creates a selector over two transports.</summary>
    /// <param name="socket">Makes the plain HTTP/1.1 requests; <see cref="SocketWebSocketTransport.Default"/> when <see langword="null"/>.</param>
    /// <param name="http">Makes every other request; <see cref="HttpWebSocketTransport.Default"/> when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for the open timeout and <c>Retry-After</c> dates; the system clock when <see langword="null"/>.</param>
    /// <param name="defaultProxy">The environment's proxy; <see cref="HttpClient.DefaultProxy"/> (read at each request) when <see langword="null"/>.</param>
    internal WebSocketTransportSelector(
        SocketWebSocketTransport? socket = null, HttpWebSocketTransport? http = null, TimeProvider? timeProvider = null, IWebProxy? defaultProxy = null)
    {
        _socket = socket ?? SocketWebSocketTransport.Default;
        _http = http ?? HttpWebSocketTransport.Default;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _defaultProxy = defaultProxy;
    }

    /// <summary>The process-wide selector, over the process-wide transports.</summary>
    public static WebSocketTransportSelector Default { get; } = new();

    /// <summary>
    /// The process-wide selector whose socket transport uses blocking calls only
    /// (<see cref="SocketWebSocketTransport.Blocking"/>): for connections read on a thread of their own.
    /// </summary>
    public static WebSocketTransportSelector Blocking { get; } = new(SocketWebSocketTransport.Blocking);

    /// <summary>The transport for a connect to <paramref name="uri"/> with <paramref name="options"/>.</summary>
    /// <returns>
    /// <see cref="Default"/> when the socket transport can make the first request (later hops are
    /// decided one by one), <see cref="HttpWebSocketTransport.Default"/> for the whole connect otherwise.
    /// </returns>
    /// <param name="uri">The URI of the first request.</param>
    /// <param name="options">The handshake options.</param>
    /// <param name="blocking">Whether the socket transport should use blocking calls only (<see cref="Blocking"/>).</param>
    public static IWebSocketTransport Choose(Uri uri, WebSocketHandshakeOptions options, bool blocking = false) =>
        CanUseSocketTransport(uri, options, HttpClient.DefaultProxy)
            ? (blocking ? Blocking : Default)
            : HttpWebSocketTransport.Default;

    /// <summary>Whether <see cref="SocketWebSocketTransport"/> can open a connection to <paramref name="uri"/> as SocketsHttpHandler would.</summary>
    /// <param name="uri">The URI in any of its forms (<c>ws</c>, <c>wss</c>, <c>http</c>, <c>https</c>).</param>
    /// <param name="options">The options, validated or not: anything unexpected answers <see langword="false"/>.</param>
    /// <param name="defaultProxy">The environment's proxy (<see cref="HttpClient.DefaultProxy"/>, or a stand-in in tests).</param>
    public static bool CanUseSocketTransport(Uri uri, WebSocketHandshakeOptions options, IWebProxy defaultProxy)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(options);
        return uri.IsAbsoluteUri &&
            uri.Scheme is "ws" or "wss" or "http" or "https" &&
            options.HttpMessageInvoker is null &&
            options.ConnectCallback is null &&
            !HttpVersionRules.StartsWithHttp2(uri, options) &&
            !(options.UseProxy && options.Proxy is not null) &&
            !ProxyRules.IsProxied(uri, options, defaultProxy, whenUnknown: true);
    }

    /// <inheritdoc />
    public async Task<WebSocketHandshakeResult> ConnectAsync(Uri uri, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(logger);
        options = OpeningHandshake.Snapshot(uri, options, cancellationToken);
        using var sender = new Sender(this);
        return await OpeningHandshake.RunAsync(sender, uri, options, logger, _timeProvider, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The sender for one connect: each request (the first and every redirect) goes to the socket
    /// transport when it can make it, otherwise to the HTTP transport, whose sender is made once and
    /// kept for the rest of the connect.
    /// </summary>
    private sealed class Sender(WebSocketTransportSelector selector) : IHandshakeSender
    {
        private readonly IHandshakeSender _socket = selector._socket.CreateSender();
        private IHandshakeSender? _http;

        public Task<HandshakeExchange> SendAsync(
            Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
        {
            if (CanUseSocketTransport(uri, options, selector._defaultProxy ?? HttpClient.DefaultProxy))
            {
                return _socket.SendAsync(uri, headers, options, logger, cancellationToken);
            }

            _http ??= selector._http.CreateSender(options);
            return _http.SendAsync(uri, headers, options, logger, cancellationToken);
        }

        public void Dispose()
        {
            _socket.Dispose();
            _http?.Dispose();
        }
    }
}
