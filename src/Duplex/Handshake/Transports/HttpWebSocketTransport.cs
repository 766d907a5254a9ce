using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using Duplex.Diagnostics;
using Duplex.Handshake.Rules;
using Microsoft.Extensions.Logging;

namespace Duplex.Handshake.Transports;

/// <summary>
/// Opens WebSockets through .NET's HTTP stack: an HTTP/1.1 <c>Upgrade</c> (RFC 6455) or an HTTP/2
/// extended <c>CONNECT</c> (RFC 8441) sent with a <see cref="SocketsHttpHandler"/>, which brings
/// DNS, proxies and TLS. The upgraded connection's stream is handed to the framing engine.
/// </summary>
/// <remarks>
/// Thread-safe; <see cref="Default"/> serves the whole process. See <see cref="HttpInvokerCache"/>
/// for when handlers are shared, and <see cref="WebSocketTransportSelector"/> for when this
/// transport is used. The rules of the handshake itself are <see cref="OpeningHandshake"/>'s, the
/// same for every transport.
/// </remarks>
internal sealed class HttpWebSocketTransport : IWebSocketTransport
{
    private readonly HttpInvokerCache _invokers;
    private readonly TimeProvider _timeProvider;

    /// <summary>Creates a transport with its own handler cache.</summary>
    /// <param name="invokers">The handler cache; a new one when <see langword="null"/>.</param>
    /// <param name="timeProvider">The clock for the open timeout and <c>Retry-After</c> dates; the system clock when <see langword="null"/>.</param>
    internal HttpWebSocketTransport(HttpInvokerCache? invokers = null, TimeProvider? timeProvider = null)
    {
        _invokers = invokers ?? new HttpInvokerCache();
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The process-wide transport.</summary>
    public static HttpWebSocketTransport Default { get; } = new();

    /// <summary>The handler cache this transport uses.</summary>
    internal HttpInvokerCache Invokers => _invokers;

    /// <inheritdoc />
    public async Task<WebSocketHandshakeResult> ConnectAsync(Uri uri, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(logger);
        options = OpeningHandshake.Snapshot(uri, options, cancellationToken);
        using IHandshakeSender sender = CreateSender(options);
        return await OpeningHandshake.RunAsync(sender, uri, options, logger, _timeProvider, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A sender for one connect with these (validated, snapshotted) options, through the invoker
    /// they call for. Disposing it releases an invoker made for this connect alone, unless a
    /// WebSocket over HTTP/2 still needs it.
    /// </summary>
    internal IHandshakeSender CreateSender(WebSocketHandshakeOptions options) => new Sender(_invokers.Get(options, out bool owned), owned);

    /// <summary>Sends handshake requests through one <see cref="HttpMessageInvoker"/>.</summary>
    private sealed class Sender : IHandshakeSender
    {
        private readonly HttpMessageInvoker _invoker;
        private HttpMessageInvoker? _ownedInvoker;

        public Sender(HttpMessageInvoker invoker, bool owned)
        {
            _invoker = invoker;
            _ownedInvoker = owned ? invoker : null;
        }

        /// <summary>
        /// Sends the handshake request once, over HTTP/2 first when the options ask for it and falling
        /// back to HTTP/1.1 when the server cannot do WebSockets over HTTP/2 and the policy allows it.
        /// </summary>
        public async Task<HandshakeExchange> SendAsync(
            Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
        {
            if (HttpVersionRules.StartsWithHttp2(uri, options))
            {
                HttpRequestMessage request = CreateRequest(uri, headers, options, key: null, logger);
                try
                {
                    return new Exchange(await SendRequestAsync(request, cancellationToken).ConfigureAwait(false), expectedAccept: null, this);
                }
                catch (HttpRequestException exception) when (HttpVersionRules.AllowsHttp11(options) && IsHttp2Unavailable(exception))
                {
                    Log.HandshakeHttp2Fallback(logger, Redaction.Uri(WebSocketUriRules.ToWebSocketUri(uri)), exception.HttpRequestError.ToString());
                }
            }

            string key = WebSocketKey.Create();
            HttpRequestMessage upgrade = CreateRequest(uri, headers, options, key, logger);
            HttpResponseMessage response = await SendRequestAsync(upgrade, cancellationToken).ConfigureAwait(false);
            return new Exchange(response, WebSocketKey.ComputeAccept(key), this);
        }

        /// <summary>Releases the invoker made for this connect, unless the WebSocket still needs it.</summary>
        public void Dispose() => Interlocked.Exchange(ref _ownedInvoker, null)?.Dispose();

        /// <summary>Takes the connect-owned invoker away from this sender (it is then the caller's), or <see langword="null"/>.</summary>
        internal HttpMessageInvoker? TakeOwnedInvoker() => Interlocked.Exchange(ref _ownedInvoker, null);

        private Task<HttpResponseMessage> SendRequestAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            // HttpClient would buffer the body of the response unless told not to.
            _invoker is HttpClient client
                ? client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
                : _invoker.SendAsync(request, cancellationToken);
    }

    /// <summary>An <see cref="HttpResponseMessage"/> to a handshake request.</summary>
    private sealed class Exchange(HttpResponseMessage response, string? expectedAccept, Sender sender)
        : HandshakeExchange((int)response.StatusCode, response.ReasonPhrase, response.Version, HttpWebSocketTransport.CollectHeaders(response), expectedAccept)
    {
        private HttpResponseMessage? _response = response;
        private Stream? _body;

        public override async Task<WebSocketHandshakeResult> OpenAsync(WebSocketHandshakeResponse description, CancellationToken cancellationToken)
        {
            HttpResponseMessage response = _response!;

            // HTTP/1.1: the 101 response's content is the raw connection, readable and writable.
            // HTTP/2: for an extended CONNECT, the response content stream is the request stream as well;
            // writes go out as DATA frames on the same HTTP/2 stream.
            Stream stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            if (!stream.CanRead || !stream.CanWrite)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                throw new InvalidOperationException(
                    "The HTTP handler returned a stream that is not both readable and writable; the handler must be (or end in) a SocketsHttpHandler.");
            }

            IDisposable? keepAlive = sender.TakeOwnedInvoker();
            if (HttpVersion.Major < 2 && keepAlive is not null)
            {
                // An upgraded HTTP/1.1 connection leaves the handler's pool (its content stream owns it),
                // and disposing the handler only closes pooled idle connections: release it now.
                keepAlive.Dispose();
                keepAlive = null;
            }

            // HTTP/2: the stream lives on a connection in the handler's pool; the handler stays until the
            // stream is done.
            _response = null; // the result owns it now
            return new WebSocketHandshakeResult(stream, description, response, keepAlive);
        }

        public override async ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            _body ??= await _response!.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return await _body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override async ValueTask DisposeAsync()
        {
            if (_body is not null)
            {
                try
                {
                    await _body.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Closing a broken body stream may fail; the response is released below regardless.
                }
            }

            _response?.Dispose();
        }
    }

    /// <summary>All response headers, content headers included, as a case-insensitive dictionary of their raw values.</summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<string>> CollectHeaders(HttpResponseMessage response)
    {
        var names = new List<string>();
        var values = new List<string>();
        Add(response.Headers.NonValidated);
        if (response.Content is not null)
        {
            Add(response.Content.Headers.NonValidated);
        }

        return new ResponseHeaders([.. names], [.. values]);

        void Add(HttpHeadersNonValidated source)
        {
            foreach (KeyValuePair<string, HeaderStringValues> header in source)
            {
                foreach (string value in header.Value)
                {
                    names.Add(header.Key);
                    values.Add(value);
                }
            }
        }
    }

    /// <summary>Whether the failure means HTTP/2 cannot carry a WebSocket to this server (so HTTP/1.1 may).</summary>
    /// <remarks>
    /// An HTTP/2-only request offers only "h2" by ALPN. A server without HTTP/2 either picks nothing
    /// and carries on (SocketsHttpHandler then reports a version negotiation error) or, as RFC 7301
    /// §3.2 allows, fails the TLS handshake with a no_application_protocol alert — indistinguishable
    /// from other TLS failures, which SocketsHttpHandler marks on extended CONNECT requests with the
    /// "HTTP2_ENABLED" data key. Any TLS failure therefore falls back; a certificate problem then
    /// fails the HTTP/1.1 attempt the same way.
    /// </remarks>
    private static bool IsHttp2Unavailable(HttpRequestException exception) =>
        exception.HttpRequestError is
            HttpRequestError.ExtendedConnectNotSupported or // HTTP/2, but no SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3)
            HttpRequestError.VersionNegotiationError or     // ALPN chose HTTP/1.1
            HttpRequestError.SecureConnectionError ||       // ALPN found nothing in common, or any other TLS failure
        exception.Data.Contains("HTTP2_ENABLED");

    private static HttpRequestMessage CreateRequest(
        Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, string? key, ILogger logger)
    {
        // The request keeps the ws/wss scheme (SocketsHttpHandler accepts it): through an HTTP proxy a
        // ws:// request then gets a CONNECT tunnel, as a WebSocket needs, rather than a forwarded GET.
        bool http2 = key is null;
        var request = new HttpRequestMessage(http2 ? HttpMethod.Connect : HttpMethod.Get, WebSocketUriRules.ToWebSocketUri(uri))
        {
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        foreach (KeyValuePair<string, string> header in headers)
        {
            // Names and values were validated (RequestHeaderRules.Validate), content
            // headers refused there; this only guards against a header HttpClient has no place for.
            if (!request.Headers.TryAddWithoutValidation(header.Key, header.Value))
            {
                throw new ArgumentException($"The header '{header.Key}' cannot be sent on a WebSocket handshake request.", nameof(WebSocketHandshakeOptions.Headers));
            }
        }

        if (options.Tls.TargetHost is { } targetHost)
        {
            // SocketsHttpHandler takes the TLS server name (SNI and certificate check) from Host.
            request.Headers.Host = uri.IsDefaultPort ? targetHost : targetHost + ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (http2)
        {
            // RFC 8441 §4: extended CONNECT with :protocol = websocket; no key, no Upgrade/Connection.
            request.Headers.Protocol = HandshakeHeaders.WebSocketToken;
        }

        foreach (KeyValuePair<string, string> header in HandshakeHeaders.Get(key, options.SubProtocols, options.ExtensionOffers))
        {
            request.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        if (logger.IsEnabled(LogLevel.Debug))
        {
            Log.HandshakeConnecting(logger, Redaction.Uri(request.RequestUri!), http2 ? "2" : "1.1");
            if (logger.IsEnabled(LogLevel.Trace))
            {
                foreach (KeyValuePair<string, HeaderStringValues> header in request.Headers.NonValidated)
                {
                    Log.HandshakeRequestHeader(logger, header.Key, Redaction.HeaderValue(header.Key, header.Value.ToString()));
                }
            }
        }

        return request;
    }
}
