using System.Text;
using Duplex.Diagnostics;
using Duplex.Handshake.Rules;
using Microsoft.Extensions.Logging;

namespace Duplex.Handshake;

/// <summary>
/// The opening handshake as every transport runs it: the options snapshot, Basic credentials from
/// the URI, the open timeout, judging each response (status, RFC 6455 §4.1 checks, subprotocol and
/// extension negotiation), following redirects, describing rejections, and turning failures into
/// typed errors. A transport supplies only an <see cref="IHandshakeSender"/>, so both transports
/// apply exactly the same rules.
/// </summary>
internal static partial class OpeningHandshake
{
    /// <summary>The longest a rejected response's body is waited for when <see cref="WebSocketHandshakeOptions.OpenTimeout"/> is infinite.</summary>
    internal static readonly TimeSpan RejectedBodyReadLimit = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Checks the URI and takes the validated snapshot of the options a connect runs with.
    /// </summary>
    /// <exception cref="ArgumentException">The URI or an option is invalid (the message names it).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> is already canceled.</exception>
    public static WebSocketHandshakeOptions Snapshot(Uri uri, WebSocketHandshakeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(options);
        WebSocketUriRules.ToHttpUri(uri);
        WebSocketHandshakeOptions snapshot = options.Clone();
        snapshot.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        return snapshot;
    }

    /// <summary>Runs the handshake with <paramref name="uri"/> through <paramref name="sender"/>.</summary>
    /// <param name="sender">Sends each request (the first, and one per followed redirect).</param>
    /// <param name="uri">The URI as the caller gave it (user information becomes Basic credentials).</param>
    /// <param name="options">The snapshot from <see cref="Snapshot"/>.</param>
    /// <param name="logger">Where the handshake logs.</param>
    /// <param name="timeProvider">The clock for the open timeout and <c>Retry-After</c> dates.</param>
    /// <param name="cancellationToken">The caller's cancellation.</param>
    /// <returns>The open stream and what the server answered.</returns>
    public static async Task<WebSocketHandshakeResult> RunAsync(
        IHandshakeSender sender, Uri uri, WebSocketHandshakeOptions options, ILogger logger, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        Uri current = WebSocketUriRules.ToHttpUri(uri);
        Dictionary<string, string> headers = new(options.Headers, StringComparer.OrdinalIgnoreCase);
        if (WebSocketUriRules.GetBasicCredentials(uri) is { } credentials && !headers.ContainsKey("Authorization"))
        {
            headers["Authorization"] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials));
        }

        if (options.Tls.AcceptAnyCertificate && logger.IsEnabled(LogLevel.Warning))
        {
            Log.AcceptAnyCertificate(logger, Redaction.Uri(WebSocketUriRules.ToWebSocketUri(current)));
        }

        // The open timeout covers everything below: DNS, connect, TLS, every redirect, the response.
        using CancellationTokenSource? timeout = options.OpenTimeout == Timeout.InfiniteTimeSpan
            ? null
            : new CancellationTokenSource(options.OpenTimeout, timeProvider);
        using CancellationTokenSource handshake = timeout is null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);

        try
        {
            Uri first = current;
            int redirects = 0;
            while (true)
            {
                HandshakeExchange exchange = await sender.SendAsync(current, headers, options, logger, handshake.Token).ConfigureAwait(false);
                await using (exchange.ConfigureAwait(false))
                {
                    LogResponseHeaders(logger, exchange.Headers);
                    if (exchange.StatusCode == exchange.OpeningStatusCode)
                    {
                        // Without a redirect, the caller's URI names where the connection leads: the
                        // response shares it rather than keep a copy per connection.
                        Uri responseUri = ReferenceEquals(current, first) && uri.Scheme is "ws" or "wss" && uri.UserInfo.Length == 0
                            ? uri
                            : WebSocketUriRules.ToWebSocketUri(current);
                        return await OpenAsync(exchange, responseUri, options, logger, handshake.Token).ConfigureAwait(false);
                    }

                    if (options.FollowRedirects && RedirectRules.IsRedirect((System.Net.HttpStatusCode)exchange.StatusCode))
                    {
                        current = FollowRedirect(current, exchange, ++redirects, headers, options, logger);
                        continue;
                    }

                    Log.HandshakeRejected(logger, Redaction.Uri(WebSocketUriRules.ToWebSocketUri(current)), exchange.StatusCode, exchange.ReasonPhrase);
                    throw await CreateRejectedExceptionAsync(exchange, options, timeProvider, cancellationToken, handshake.Token).ConfigureAwait(false);
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
    }

    /// <summary>Validates a 101 (or HTTP/2 200) response and opens the WebSocket on its connection.</summary>
    /// <param name="exchange">The response.</param>
    /// <param name="uri">The WebSocket URI the response was to, for the result.</param>
    /// <param name="options">What was offered.</param>
    /// <param name="logger">Where success is logged.</param>
    /// <param name="cancellationToken">The handshake's cancellation.</param>
    private static async Task<WebSocketHandshakeResult> OpenAsync(
        HandshakeExchange exchange, Uri uri, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        if (exchange.ExpectedAccept is { } expectedAccept)
        {
            UpgradeResponseRules.Validate(exchange.Headers, expectedAccept);
        }

        string? subProtocol = SubProtocolNegotiation.Negotiate(exchange.Headers, options.SubProtocols);
        string? extensions = ExtensionNegotiation.Negotiate(exchange.Headers, options.ExtensionOffers);
        var response = new WebSocketHandshakeResponse(
            uri,
            exchange.StatusCode,
            exchange.HttpVersion,
            exchange.Headers,
            subProtocol,
            extensions);

        WebSocketHandshakeResult result = await exchange.OpenAsync(response, cancellationToken).ConfigureAwait(false);
        if (logger.IsEnabled(LogLevel.Debug))
        {
            // Guarded: redacting parses the URI's parts, which the Uri then caches for its lifetime.
            Log.HandshakeSucceeded(logger, Redaction.Uri(response.Uri), response.StatusCode, exchange.HttpVersion.Major >= 2 ? "2" : "1.1", Log.Shown(subProtocol), Log.Shown(extensions));
        }

        return result;
    }

    /// <summary>
    /// The URI a redirect leads to, after the checks: the redirect limit, the <c>Location</c> (scheme,
    /// no TLS downgrade), and the headers that must not reach another origin, which are dropped.
    /// </summary>
    private static Uri FollowRedirect(
        Uri current, HandshakeExchange exchange, int redirects, Dictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger)
    {
        if (redirects > options.MaxRedirects)
        {
            throw new WebSocketConnectException(
                WebSocketConnectError.TooManyRedirects,
                $"The server redirected more than {options.MaxRedirects} times.");
        }

        Uri next = RedirectRules.Resolve(current, RedirectRules.GetLocation(exchange.Headers));
        Log.HandshakeRedirect(logger, exchange.StatusCode, redirects, Redaction.Uri(WebSocketUriRules.ToWebSocketUri(current)), Redaction.Uri(WebSocketUriRules.ToWebSocketUri(next)));
        if (!WebSocketUriRules.IsSameOrigin(current, next))
        {
            int dropped = RedirectRules.RemoveCrossOriginHeaders(headers);
            if (dropped > 0)
            {
                Log.HandshakeRedirectHeadersDropped(logger, dropped, Redaction.Uri(WebSocketUriRules.ToWebSocketUri(next)));
            }
        }

        return next;
    }

    /// <summary>Describes a rejected handshake: status, headers, the start of the body, Retry-After.</summary>
    private static async Task<WebSocketHandshakeRejectedException> CreateRejectedExceptionAsync(
        HandshakeExchange exchange, WebSocketHandshakeOptions options, TimeProvider timeProvider, CancellationToken callerToken, CancellationToken handshakeToken)
    {
        TimeSpan? retryAfter = RetryAfter.GetDelay(exchange.Headers, timeProvider.GetUtcNow());

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
                int read;
                while (length < buffer.Length &&
                    (read = await exchange.ReadBodyAsync(buffer.AsMemory(length), bodyRead.Token).ConfigureAwait(false)) > 0)
                {
                    length += read;
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
        return new WebSocketHandshakeRejectedException(exchange.StatusCode, exchange.ReasonPhrase, exchange.Headers, text, retryAfter);
    }

    private static void LogResponseHeaders(ILogger logger, IReadOnlyDictionary<string, IReadOnlyList<string>> headers)
    {
        if (!logger.IsEnabled(LogLevel.Trace))
        {
            return;
        }

        foreach (KeyValuePair<string, IReadOnlyList<string>> header in headers)
        {
            Log.HandshakeResponseHeader(logger, header.Key, Redaction.HeaderValue(header.Key, string.Join(", ", header.Value)));
        }
    }
}
