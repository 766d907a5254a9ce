using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using Duplex.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Duplex.Handshake;

/// <summary>
/// Opens WebSockets through .NET's HTTP stack: an HTTP/1.1 <c>Upgrade</c> (RFC 6455) or an HTTP/2
/// extended <c>CONNECT</c> (RFC 8441) sent with a <see cref="SocketsHttpHandler"/>, which brings
/// DNS, proxies and TLS. The upgraded connection's stream is handed to the framing engine.
/// </summary>
/// <remarks>
/// Thread-safe; <see cref="Default"/> serves the whole process. See <see cref="HttpInvokerCache"/>
/// for when handlers are shared.
/// </remarks>
internal sealed partial class HttpWebSocketTransport : IWebSocketTransport
{
    /// <summary>The longest a rejected response's body is waited for when <see cref="WebSocketHandshakeOptions.OpenTimeout"/> is infinite.</summary>
    internal static readonly TimeSpan RejectedBodyReadLimit = TimeSpan.FromSeconds(10);

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
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);

        Uri current = WebSocketHandshake.ToHttpUri(uri);
        options = options.Clone();
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();

        Dictionary<string, string> headers = new(options.Headers, StringComparer.OrdinalIgnoreCase);
        if (WebSocketHandshake.GetBasicCredentials(uri) is { } credentials && !headers.ContainsKey("Authorization"))
        {
            headers["Authorization"] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials));
        }

        if (options.Tls.AcceptAnyCertificate)
        {
            Log.AcceptAnyCertificate(logger, Redaction.Uri(WebSocketHandshake.ToWebSocketUri(current)));
        }

        // The open timeout covers everything below: connect, TLS, every redirect, the response.
        using CancellationTokenSource? timeout = options.OpenTimeout == Timeout.InfiniteTimeSpan
            ? null
            : new CancellationTokenSource(options.OpenTimeout, _timeProvider);
        using CancellationTokenSource handshake = timeout is null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);

        HttpMessageInvoker invoker = _invokers.Get(options, out bool ownsInvoker);
        bool invokerHandedOver = false;
        try
        {
            int redirects = 0;
            while (true)
            {
                (HttpResponseMessage response, string? expectedAccept) =
                    await SendAsync(invoker, current, headers, options, logger, handshake.Token).ConfigureAwait(false);
                HttpResponseMessage? toDispose = response;
                try
                {
                    LogResponseHeaders(logger, response);
                    int status = (int)response.StatusCode;
                    int expectedStatus = response.Version.Major >= 2 ? 200 : 101;
                    if (status == expectedStatus)
                    {
                        WebSocketHandshakeResult result = await CompleteAsync(
                            response, current, expectedAccept, options, ownsInvoker ? invoker : null, logger, handshake.Token).ConfigureAwait(false);
                        invokerHandedOver = true;
                        toDispose = null; // the result owns it now
                        return result;
                    }

                    if (options.FollowRedirects && WebSocketHandshake.IsRedirect(response.StatusCode))
                    {
                        if (++redirects > options.MaxRedirects)
                        {
                            throw new WebSocketConnectException(
                                WebSocketConnectError.TooManyRedirects,
                                $"The server redirected more than {options.MaxRedirects} times.");
                        }

                        Uri next = WebSocketHandshake.ResolveRedirect(current, response.Headers.Location);
                        Log.HandshakeRedirect(logger, status, redirects, Redaction.Uri(WebSocketHandshake.ToWebSocketUri(current)), Redaction.Uri(WebSocketHandshake.ToWebSocketUri(next)));
                        if (!WebSocketHandshake.IsSameOrigin(current, next))
                        {
                            int dropped = WebSocketHandshake.RemoveCrossOriginHeaders(headers);
                            if (dropped > 0)
                            {
                                Log.HandshakeRedirectHeadersDropped(logger, dropped, Redaction.Uri(WebSocketHandshake.ToWebSocketUri(next)));
                            }
                        }

                        current = next;
                        continue;
                    }

                    Log.HandshakeRejected(logger, Redaction.Uri(WebSocketHandshake.ToWebSocketUri(current)), status, response.ReasonPhrase);
                    throw await CreateRejectedExceptionAsync(response, options, cancellationToken, handshake.Token).ConfigureAwait(false);
                }
                finally
                {
                    toDispose?.Dispose();
                }
            }
        }
        catch (Exception exception)
        {
            Exception failure = Fail(exception, current, options, timeout, logger, cancellationToken);
            if (ReferenceEquals(failure, exception))
            {
                throw;
            }

            throw failure;
        }
        finally
        {
            if (ownsInvoker && !invokerHandedOver)
            {
                invoker.Dispose();
            }
        }
    }

    /// <summary>
    /// Sends the handshake request once, over HTTP/2 first when the options ask for it and falling
    /// back to HTTP/1.1 when the server cannot do WebSockets over HTTP/2 and the policy allows it.
    /// </summary>
    /// <returns>The response, and the <c>Sec-WebSocket-Accept</c> value expected for HTTP/1.1.</returns>
    private static async Task<(HttpResponseMessage Response, string? ExpectedAccept)> SendAsync(
        HttpMessageInvoker invoker, Uri uri, Dictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        bool secure = WebSocketHandshake.IsSecure(uri);
        bool wantsHttp2 = options.HttpVersion == HttpVersion.Version20 ||
            options.HttpVersionPolicy == HttpVersionPolicy.RequestVersionOrHigher;
        bool http11Allowed = options.HttpVersion == HttpVersion.Version11 ||
            options.HttpVersionPolicy == HttpVersionPolicy.RequestVersionOrLower;

        // Like SocketsHttpHandler for cleartext: without TLS there is no ALPN to learn whether the
        // server speaks HTTP/2, so HTTP/2 ("h2c", prior knowledge) is used only when it is required.
        bool tryHttp2 = wantsHttp2 && (secure || !http11Allowed);
        if (tryHttp2)
        {
            HttpRequestMessage request = CreateRequest(uri, http2: true, headers, options, key: null, logger);
            try
            {
                return (await SendRequestAsync(invoker, request, cancellationToken).ConfigureAwait(false), null);
            }
            catch (HttpRequestException exception) when (http11Allowed && IsHttp2Unavailable(exception))
            {
                Log.HandshakeHttp2Fallback(logger, Redaction.Uri(WebSocketHandshake.ToWebSocketUri(uri)), exception.HttpRequestError.ToString());
            }
        }

        string key = WebSocketHandshake.CreateKey();
        HttpRequestMessage upgrade = CreateRequest(uri, http2: false, headers, options, key, logger);
        HttpResponseMessage response = await SendRequestAsync(invoker, upgrade, cancellationToken).ConfigureAwait(false);
        return (response, WebSocketHandshake.ComputeAccept(key));
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
        Uri uri, bool http2, Dictionary<string, string> headers, WebSocketHandshakeOptions options, string? key, ILogger logger)
    {
        // The request keeps the ws/wss scheme (SocketsHttpHandler accepts it): through an HTTP proxy a
        // ws:// request then gets a CONNECT tunnel, as a WebSocket needs, rather than a forwarded GET.
        var request = new HttpRequestMessage(http2 ? HttpMethod.Connect : HttpMethod.Get, WebSocketHandshake.ToWebSocketUri(uri))
        {
            Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        foreach (KeyValuePair<string, string> header in headers)
        {
            // Names and values were validated (WebSocketHandshake.ValidateRequestHeader); a name that is
            // not a request header at all (a content header such as Content-Type) is refused here.
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
            request.Headers.Protocol = WebSocketHandshake.WebSocketToken;
        }
        else
        {
            WebSocketHandshake.AddHttp11UpgradeHeaders(request.Headers, key!);
        }

        WebSocketHandshake.AddCommonHeaders(request.Headers, options.SubProtocols, options.ExtensionOffers);

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

    private static Task<HttpResponseMessage> SendRequestAsync(HttpMessageInvoker invoker, HttpRequestMessage request, CancellationToken cancellationToken) =>
        // HttpClient would buffer the body of the response unless told not to.
        invoker is HttpClient client
            ? client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken)
            : invoker.SendAsync(request, cancellationToken);

    /// <summary>Validates a 101/200 response and turns it into the result.</summary>
    private static async Task<WebSocketHandshakeResult> CompleteAsync(
        HttpResponseMessage response, Uri uri, string? expectedAccept, WebSocketHandshakeOptions options,
        HttpMessageInvoker? ownedInvoker, ILogger logger, CancellationToken cancellationToken)
    {
        bool http2 = response.Version.Major >= 2;
        if (!http2)
        {
            WebSocketHandshake.ValidateHttp11Upgrade(response.Headers, expectedAccept!);
        }

        string? subProtocol = WebSocketHandshake.NegotiateSubProtocol(response.Headers, options.SubProtocols);
        string? extensions = WebSocketHandshake.NegotiateExtensions(response.Headers, options.ExtensionOffers);

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

        var description = new WebSocketHandshakeResponse(
            WebSocketHandshake.ToWebSocketUri(uri),
            (int)response.StatusCode,
            response.Version,
            WebSocketHandshake.CollectHeaders(response),
            subProtocol,
            extensions);
        Log.HandshakeSucceeded(logger, Redaction.Uri(description.Uri), description.StatusCode, http2 ? "2" : "1.1", subProtocol, extensions);

        IDisposable? keepAlive = ownedInvoker;
        if (!http2 && ownedInvoker is not null)
        {
            // An upgraded HTTP/1.1 connection leaves the handler's pool (its content stream owns it),
            // and disposing the handler only closes pooled idle connections: release it now.
            ownedInvoker.Dispose();
            keepAlive = null;
        }

        // HTTP/2: the stream lives on a connection in the handler's pool; the handler stays until the
        // stream is done.
        return new WebSocketHandshakeResult(stream, description, response, keepAlive);
    }

    /// <summary>Describes a rejected handshake: status, headers, the start of the body, Retry-After.</summary>
    private async Task<WebSocketHandshakeRejectedException> CreateRejectedExceptionAsync(
        HttpResponseMessage response, WebSocketHandshakeOptions options, CancellationToken callerToken, CancellationToken handshakeToken)
    {
        IReadOnlyDictionary<string, IReadOnlyList<string>> headers = WebSocketHandshake.CollectHeaders(response);
        TimeSpan? retryAfter = WebSocketHandshake.GetRetryAfter(response.Headers, _timeProvider.GetUtcNow());

        byte[] buffer = new byte[WebSocketHandshakeRejectedException.MaxBodyBytes];
        int length = 0;
        using (var bodyRead = CancellationTokenSource.CreateLinkedTokenSource(handshakeToken))
        {
            if (options.OpenTimeout == Timeout.InfiniteTimeSpan)
            {
                bodyRead.CancelAfter(RejectedBodyReadLimit);
            }

            try
            {
                Stream body = await response.Content.ReadAsStreamAsync(bodyRead.Token).ConfigureAwait(false);
                await using (body.ConfigureAwait(false))
                {
                    int read;
                    while (length < buffer.Length &&
                        (read = await body.ReadAsync(buffer.AsMemory(length), bodyRead.Token).ConfigureAwait(false)) > 0)
                    {
                        length += read;
                    }
                }
            }
            catch (Exception) when (!callerToken.IsCancellationRequested)
            {
                // A body that is slow, cut short or broken still leaves the status and headers to report.
            }
        }

        callerToken.ThrowIfCancellationRequested();

        // UTF-8, lossy: invalid sequences (and a character cut at the limit) become U+FFFD.
        string text = Encoding.UTF8.GetString(buffer, 0, length);
        return new WebSocketHandshakeRejectedException((int)response.StatusCode, response.ReasonPhrase, headers, text, retryAfter);
    }

    private static void LogResponseHeaders(ILogger logger, HttpResponseMessage response)
    {
        if (!logger.IsEnabled(LogLevel.Trace))
        {
            return;
        }

        foreach (KeyValuePair<string, HeaderStringValues> header in response.Headers.NonValidated)
        {
            Log.HandshakeResponseHeader(logger, header.Key, Redaction.HeaderValue(header.Key, header.Value.ToString()));
        }
    }
}
