using System.Net;
using System.Net.Http;
using Duplex.Handshake.Rules;

namespace Duplex.Handshake;

/// <summary>
/// Everything that shapes the WebSocket opening handshake: request headers, subprotocols, the HTTP
/// version, limits, redirects, TLS, proxy and the transport underneath.
/// </summary>
/// <remarks>
/// <para>
/// The options are validated and copied when a connection is opened: an invalid value fails that
/// connect with an <see cref="ArgumentException"/> naming the property, and changes made
/// afterwards affect only later connections (a reconnecting client picks them up, which is how
/// rotating tokens in <see cref="Headers"/> reach the server). An instance is not thread-safe for
/// writing; do not change it while a connect that uses it is starting.
/// </para>
/// <para>
/// How a connection is opened follows from these options. When the handshake is a plain HTTP/1.1
/// upgrade straight to the server, Duplex opens a bare socket (with <see cref="System.Net.Security.SslStream"/>
/// for <c>wss://</c>) and writes and reads the upgrade itself, which keeps an idle connection's
/// memory small. That is the case when all of these hold: <see cref="HttpMessageInvoker"/> and
/// <see cref="ConnectCallback"/> are not set; the handshake does not start with HTTP/2 (version 1.1,
/// or version 2.0 with <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionOrLower"/> on
/// <c>ws://</c>, where HTTP/2 is never tried without TLS; HTTP/2 required, or allowed on
/// <c>wss://</c> where ALPN may choose it, is not); and no proxy applies (<see cref="UseProxy"/> is
/// <see langword="false"/>, or <see cref="Proxy"/> is not set and the environment's proxy bypasses
/// the URI). Otherwise the handshake goes through a <see cref="SocketsHttpHandler"/>, shared between
/// connections whose options allow it. Both apply the same validation, limits, redirects, TLS
/// settings and errors; a followed redirect to a target that needs a proxy or HTTP/2 is made
/// through <see cref="SocketsHttpHandler"/>.
/// </para>
/// </remarks>
public sealed class WebSocketHandshakeOptions
{
    /// <summary>The default <see cref="OpenTimeout"/>: 10 seconds.</summary>
    public static readonly TimeSpan DefaultOpenTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The default <see cref="MaxResponseHeadersBytes"/>: 16 KiB.</summary>
    public const int DefaultMaxResponseHeadersBytes = 16 * 1024;

    /// <summary>The default <see cref="MaxRedirects"/>: 5.</summary>
    public const int DefaultMaxRedirects = 5;

    /// <summary>
    /// Extra request headers sent with the handshake (authorization, API keys, cookies, client
    /// information, <c>Origin</c>…). Names are compared case-insensitively. Names must be HTTP tokens
    /// and values must not contain CR, LF or NUL. The headers the handshake itself owns are refused:
    /// <c>Host</c>, <c>Upgrade</c>, <c>Connection</c>, <c>Sec-WebSocket-Key</c>,
    /// <c>Sec-WebSocket-Version</c>, <c>Sec-WebSocket-Extensions</c>, <c>Sec-WebSocket-Accept</c>,
    /// <c>Sec-WebSocket-Protocol</c> (use <see cref="SubProtocols"/>), and the framing headers
    /// <c>Content-Length</c> and <c>Transfer-Encoding</c>.
    /// </summary>
    /// <remarks>
    /// Values of headers that look secret (authorization, cookies, anything named like a token, key
    /// or password) are never logged. When a followed redirect leaves the origin, those headers are
    /// not sent to the new origin.
    /// </remarks>
    public IDictionary<string, string> Headers { get; set; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The subprotocols offered in <c>Sec-WebSocket-Protocol</c>, most preferred first. Each must be an
    /// HTTP token and appear once. The server picks at most one; a server that picks one that was not
    /// offered fails the handshake. Empty (the default) offers none.
    /// </summary>
    public IList<string> SubProtocols { get; set; } = new List<string>();

    /// <summary>
    /// The HTTP version of the handshake: 1.1 (the default; an HTTP/1.1 <c>Upgrade</c>, RFC 6455) or
    /// 2.0 (an HTTP/2 extended <c>CONNECT</c>, RFC 8441). See <see cref="HttpVersionPolicy"/> for
    /// how strictly it is applied.
    /// </summary>
    public Version HttpVersion { get; set; } = System.Net.HttpVersion.Version11;

    /// <summary>
    /// How strictly <see cref="HttpVersion"/> is applied. The default,
    /// <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionOrLower"/>, with version 2.0 tries
    /// HTTP/2 on <c>wss://</c> (negotiated with TLS ALPN) and falls back to an HTTP/1.1 upgrade when
    /// the server does not speak HTTP/2, does not support WebSockets over it (no RFC 8441
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL), or fails the TLS handshake of the HTTP/2 attempt; on <c>ws://</c> it
    /// uses HTTP/1.1 directly, as <see cref="SocketsHttpHandler"/> does for cleartext.
    /// <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionExact"/> (or
    /// <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionOrHigher"/>) with version 2.0 uses
    /// HTTP/2 only (cleartext <c>ws://</c> then means HTTP/2 with prior knowledge, "h2c").
    /// <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionOrHigher"/> with version 1.1 behaves
    /// like version 2.0 with <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionOrLower"/>.
    /// </summary>
    public HttpVersionPolicy HttpVersionPolicy { get; set; } = HttpVersionPolicy.RequestVersionOrLower;

    /// <summary>
    /// The time allowed for the whole opening handshake — DNS, TCP, proxy, TLS, every redirect and
    /// the server's answer. When it runs out the connect fails with
    /// <see cref="WebSocketConnectError.Timeout"/>. <see cref="Timeout.InfiniteTimeSpan"/> disables
    /// it. Defaults to <see cref="DefaultOpenTimeout"/>.
    /// </summary>
    public TimeSpan OpenTimeout { get; set; } = DefaultOpenTimeout;

    /// <summary>
    /// The largest size of the response status line and headers the server may send, in bytes
    /// (enforced in whole KiB, rounded up). A larger response fails the handshake instead of
    /// consuming memory. Defaults to <see cref="DefaultMaxResponseHeadersBytes"/>. With
    /// <see cref="HttpMessageInvoker"/> the invoker's handler sets this limit instead.
    /// </summary>
    /// <remarks>
    /// When Duplex reads the upgrade response itself (see the type's remarks), it also refuses any
    /// single line longer than 8 KiB, lines ending in a bare LF, folded header lines and control
    /// characters, as <see cref="WebSocketConnectError.InvalidHandshake"/>.
    /// </remarks>
    public int MaxResponseHeadersBytes { get; set; } = DefaultMaxResponseHeadersBytes;

    /// <summary>
    /// Whether HTTP redirects (301, 302, 303, 307, 308) are followed. When a redirect leaves the
    /// origin, authorization, cookies and other secret-looking headers are dropped; a redirect from
    /// <c>wss://</c> to <c>ws://</c> is refused. Defaults to <see langword="false"/>: a redirect is
    /// reported as a rejected handshake.
    /// </summary>
    public bool FollowRedirects { get; set; }

    /// <summary>
    /// How many redirects are followed before the connect fails with
    /// <see cref="WebSocketConnectError.TooManyRedirects"/>. Defaults to <see cref="DefaultMaxRedirects"/>.
    /// </summary>
    public int MaxRedirects { get; set; } = DefaultMaxRedirects;

    /// <summary>TLS settings for <c>wss://</c>: trust, client certificates, protocols.</summary>
    public WebSocketTlsOptions Tls { get; set; } = new();

    /// <summary>
    /// An explicit proxy (with its credentials, if it needs any). <see langword="null"/> (the default)
    /// uses the environment's proxy settings (<c>HTTPS_PROXY</c>, <c>ALL_PROXY</c>, <c>NO_PROXY</c> or the
    /// system settings) when <see cref="UseProxy"/> is <see langword="true"/>.
    /// </summary>
    public IWebProxy? Proxy { get; set; }

    /// <summary>
    /// Whether a proxy is used at all. <see langword="true"/> (the default) uses <see cref="Proxy"/>
    /// or, when that is <see langword="null"/>, the environment's proxy like <see cref="HttpClient"/>
    /// does; <see langword="false"/> always connects directly.
    /// </summary>
    public bool UseProxy { get; set; } = true;

    /// <summary>
    /// Opens the transport stream yourself (for example over a Unix domain socket or a named pipe)
    /// instead of a TCP connection to the URI's host and port. TLS still runs on top of the returned
    /// stream for <c>wss://</c>. <see langword="null"/> (the default) opens a TCP socket. Setting it
    /// sends the handshake through <see cref="SocketsHttpHandler"/>, which calls it.
    /// </summary>
    public Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>>? ConnectCallback { get; set; }

    /// <summary>
    /// Whether TCP_NODELAY is set on the sockets Duplex opens, so small frames (pings, short
    /// messages) leave at once instead of waiting for Nagle's algorithm. Defaults to <see langword="true"/>.
    /// Has no effect with <see cref="ConnectCallback"/> or <see cref="HttpMessageInvoker"/>.
    /// </summary>
    public bool NoDelay { get; set; } = true;

    /// <summary>
    /// Sends the handshake through your own invoker (for example an <see cref="HttpClient"/> from
    /// <c>IHttpClientFactory</c>, or a handler chain with your own policies). Its handler must be, or
    /// end in, a <see cref="SocketsHttpHandler"/> so the upgraded connection can be used as a stream,
    /// and should not follow redirects itself. TLS, proxy and connection settings are then the
    /// invoker's business: setting <see cref="Tls"/>, <see cref="Proxy"/> or
    /// <see cref="ConnectCallback"/> as well is refused. Duplex never disposes this invoker.
    /// </summary>
    public HttpMessageInvoker? HttpMessageInvoker { get; set; }

    /// <summary>
    /// The extensions offered in <c>Sec-WebSocket-Extensions</c>, in order (for example
    /// permessage-deflate). Empty: none offered, and a server that names any extension fails the handshake.
    /// </summary>
    internal IList<WebSocketExtensionOffer> ExtensionOffers { get; set; } = new List<WebSocketExtensionOffer>();

    /// <summary>
    /// A snapshot of these options, so that later edits have no effect on a connect in progress.
    /// Collections are copied (headers into a case-insensitive dictionary); the objects they hold
    /// (certificates, callbacks, proxy, invoker) are shared.
    /// </summary>
    internal WebSocketHandshakeOptions Clone()
    {
        Dictionary<string, string>? headers = null;
        if (Headers is not null)
        {
            headers = new Dictionary<string, string>(Headers.Count, StringComparer.OrdinalIgnoreCase);
            foreach (KeyValuePair<string, string> header in Headers)
            {
                if (header.Key is null || !headers.TryAdd(header.Key, header.Value))
                {
                    throw new ArgumentException(
                        header.Key is null
                            ? $"{nameof(Headers)} contains a null header name."
                            : $"{nameof(Headers)} contains the header '{header.Key}' more than once (names are case-insensitive).",
                        nameof(Headers));
                }
            }
        }

        return new WebSocketHandshakeOptions
        {
            Headers = headers!,
            SubProtocols = SubProtocols is null ? null! : new List<string>(SubProtocols),
            HttpVersion = HttpVersion,
            HttpVersionPolicy = HttpVersionPolicy,
            OpenTimeout = OpenTimeout,
            MaxResponseHeadersBytes = MaxResponseHeadersBytes,
            FollowRedirects = FollowRedirects,
            MaxRedirects = MaxRedirects,
            Tls = Tls?.Clone()!,
            Proxy = Proxy,
            UseProxy = UseProxy,
            ConnectCallback = ConnectCallback,
            NoDelay = NoDelay,
            HttpMessageInvoker = HttpMessageInvoker,
            ExtensionOffers = ExtensionOffers is null ? null! : new List<WebSocketExtensionOffer>(ExtensionOffers),
        };
    }

    /// <summary>
    /// Checks every value and throws <see cref="ArgumentException"/> naming the first invalid
    /// property (and, for headers, the header name — never its value).
    /// </summary>
    internal void Validate()
    {
        if (Headers is null)
        {
            throw new ArgumentException($"{nameof(Headers)} must not be null.", nameof(Headers));
        }

        foreach (KeyValuePair<string, string> header in Headers)
        {
            RequestHeaderRules.Validate(header.Key, header.Value);
        }

        if (SubProtocols is null)
        {
            throw new ArgumentException($"{nameof(SubProtocols)} must not be null.", nameof(SubProtocols));
        }

        SubProtocolNegotiation.ValidateOffer(SubProtocols);

        if (HttpVersion is null || !(HttpVersion == System.Net.HttpVersion.Version11 || HttpVersion == System.Net.HttpVersion.Version20))
        {
            throw new ArgumentException($"{nameof(HttpVersion)} must be 1.1 or 2.0.", nameof(HttpVersion));
        }

        if (!Enum.IsDefined(HttpVersionPolicy))
        {
            throw new ArgumentException($"{nameof(HttpVersionPolicy)} is not a defined value.", nameof(HttpVersionPolicy));
        }

        if (OpenTimeout != Timeout.InfiniteTimeSpan &&
            (OpenTimeout <= TimeSpan.Zero || OpenTimeout.TotalMilliseconds > int.MaxValue))
        {
            throw new ArgumentException($"{nameof(OpenTimeout)} must be positive and at most {int.MaxValue} ms, or Timeout.InfiniteTimeSpan.", nameof(OpenTimeout));
        }

        if (MaxResponseHeadersBytes <= 0)
        {
            throw new ArgumentException($"{nameof(MaxResponseHeadersBytes)} must be positive.", nameof(MaxResponseHeadersBytes));
        }

        if (MaxRedirects < 0)
        {
            throw new ArgumentException($"{nameof(MaxRedirects)} must not be negative.", nameof(MaxRedirects));
        }

        if (Tls is null)
        {
            throw new ArgumentException($"{nameof(Tls)} must not be null.", nameof(Tls));
        }

        Tls.Validate();
        if (Tls.AcceptAnyCertificate && Tls.RemoteCertificateValidationCallback is not null)
        {
            throw new ArgumentException(
                $"{nameof(Tls)}.{nameof(WebSocketTlsOptions.AcceptAnyCertificate)} cannot be combined with {nameof(Tls)}.{nameof(WebSocketTlsOptions.RemoteCertificateValidationCallback)}; choose one.",
                nameof(WebSocketTlsOptions.AcceptAnyCertificate));
        }

        if (Tls.AcceptAnyCertificate && Tls.TrustedRootCertificates is { Count: > 0 })
        {
            throw new ArgumentException(
                $"{nameof(Tls)}.{nameof(WebSocketTlsOptions.AcceptAnyCertificate)} cannot be combined with {nameof(Tls)}.{nameof(WebSocketTlsOptions.TrustedRootCertificates)}; choose one.",
                nameof(WebSocketTlsOptions.AcceptAnyCertificate));
        }

        if (HttpMessageInvoker is not null)
        {
            string? conflict =
                !Tls.IsDefault ? nameof(Tls) :
                Proxy is not null ? nameof(Proxy) :
                ConnectCallback is not null ? nameof(ConnectCallback) :
                null;
            if (conflict is not null)
            {
                throw new ArgumentException(
                    $"{conflict} cannot be combined with {nameof(HttpMessageInvoker)}; configure it on the invoker's handler instead.",
                    conflict);
            }
        }

        if (ExtensionOffers is null)
        {
            throw new ArgumentException($"{nameof(ExtensionOffers)} must not be null.", nameof(ExtensionOffers));
        }

        ExtensionNegotiation.ValidateOffers(ExtensionOffers);
    }
}
