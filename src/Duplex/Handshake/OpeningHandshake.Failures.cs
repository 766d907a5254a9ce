using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Authentication;
using Duplex.Diagnostics;
using Duplex.Handshake.Rules;
using Duplex.Handshake.Transports;
using Microsoft.Extensions.Logging;

namespace Duplex.Handshake;

/// <summary>Turning what the HTTP stack, the sockets or TLS threw into the error a caller can act on.</summary>
internal static partial class OpeningHandshake
{
    /// <summary>
    /// The exception a failed connect surfaces: the caller's cancellation as
    /// <see cref="OperationCanceledException"/>, usage errors and our own connect errors as they are,
    /// the open timeout as <see cref="WebSocketConnectError.Timeout"/>, anything else classified.
    /// </summary>
    private static Exception Fail(
        Exception exception, Uri uri, WebSocketHandshakeOptions options, CancellationTokenSource? timeout, ILogger logger, CancellationToken cancellationToken)
    {
        string redactedUri = Redaction.Uri(WebSocketUriRules.ToWebSocketUri(uri));
        if (cancellationToken.IsCancellationRequested)
        {
            Log.HandshakeCanceled(logger, redactedUri);
            return exception is OperationCanceledException canceled && canceled.CancellationToken == cancellationToken
                ? canceled
                : new OperationCanceledException("The WebSocket connect was canceled.", exception, cancellationToken);
        }

        if (exception is ArgumentException or InvalidOperationException)
        {
            return exception;
        }

        WebSocketConnectException failure = exception switch
        {
            WebSocketConnectException connectException => connectException,
            _ when timeout is { IsCancellationRequested: true } => new WebSocketConnectException(
                WebSocketConnectError.Timeout,
                string.Create(CultureInfo.InvariantCulture, $"The WebSocket handshake with {WebSocketUriRules.Endpoint(uri)} did not complete within the open timeout of {options.OpenTimeout.TotalSeconds:0.###} s."),
                exception),
            _ => Classify(exception, uri, options),
        };

        Log.HandshakeFailed(logger, redactedUri, failure.Error, failure);
        return failure;
    }

    /// <summary>
    /// Classifies a failure of the HTTP stack by <see cref="HttpRequestException.HttpRequestError"/>,
    /// and any other by the socket or TLS exception inside it. The message is one sentence naming the host and
    /// port, never a header or a query string; the original is the inner exception.
    /// </summary>
    internal static WebSocketConnectException Classify(Exception exception, Uri uri, WebSocketHandshakeOptions options)
    {
        string endpoint = WebSocketUriRules.Endpoint(uri);
        if (Find<CertificateRefusal>(exception) is { } refusal)
        {
            return new WebSocketConnectException(WebSocketConnectError.Tls, $"The TLS handshake with {endpoint} failed: the server certificate was refused, {refusal.Description}.", exception)
            {
                TlsFailure = refusal.Reason,
                CertificateErrors = refusal.Errors,
                CertificateChainStatus = refusal.ChainStatus,
            };
        }

        HttpRequestError httpError = exception is HttpRequestException request ? request.HttpRequestError : HttpRequestError.Unknown;
        (WebSocketConnectError error, string message) = httpError switch
        {
            HttpRequestError.NameResolutionError when IsProxied(uri, options) =>
                (WebSocketConnectError.Proxy, $"The proxy for {endpoint} could not be reached: its host name could not be resolved."),
            HttpRequestError.NameResolutionError =>
                (WebSocketConnectError.NameResolution, $"The host name '{uri.IdnHost}' could not be resolved."),
            HttpRequestError.ProxyTunnelError when ProxyStatus(exception) is { } status =>
                (WebSocketConnectError.Proxy, string.Create(CultureInfo.InvariantCulture, $"The proxy refused to open a tunnel to {endpoint}: HTTP {status}{(status == 407 ? " (proxy authentication required; see WebProxy.Credentials)" : string.Empty)}.")),
            HttpRequestError.ProxyTunnelError =>
                (WebSocketConnectError.Proxy, $"The proxy failed to open a tunnel to {endpoint}."),
            HttpRequestError.SecureConnectionError =>
                (WebSocketConnectError.Tls, $"The TLS handshake with {endpoint} failed ({TlsCause(exception)})."),
            HttpRequestError.ExtendedConnectNotSupported =>
                (WebSocketConnectError.InvalidHandshake, $"The server at {endpoint} does not support WebSockets over HTTP/2 (RFC 8441 extended CONNECT)."),
            HttpRequestError.VersionNegotiationError =>
                (WebSocketConnectError.InvalidHandshake, $"The server at {endpoint} does not support HTTP/2, which the HttpVersion and HttpVersionPolicy options require."),
            HttpRequestError.ConfigurationLimitExceeded =>
                (WebSocketConnectError.InvalidHandshake, string.Create(CultureInfo.InvariantCulture, $"The response headers from {endpoint} exceed the limit of {options.MaxResponseHeadersBytes} bytes.")),
            HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError =>
                (WebSocketConnectError.InvalidHandshake, $"The server at {endpoint} answered with invalid HTTP or reset the request."),
            HttpRequestError.ResponseEnded =>
                (WebSocketConnectError.Network, $"The server at {endpoint} closed the connection before completing the handshake."),
            _ => ClassifyByCause(exception, uri, endpoint, options),
        };

        return new WebSocketConnectException(error, message, exception)
        {
            TlsFailure = error == WebSocketConnectError.Tls ? WebSocketTlsFailure.Other : null,
            ProxyStatusCode = httpError == HttpRequestError.ProxyTunnelError ? ProxyStatus(exception) : null,
        };
    }

    /// <summary>The status the proxy answered a tunnel request with, when the HTTP stack says.</summary>
    private static int? ProxyStatus(Exception exception) =>
        exception is HttpRequestException { StatusCode: { } status } ? (int)status : null;

    /// <summary>What the TLS layer said of a failure that is not about the certificate, e.g. "the server closed the connection".</summary>
    private static string TlsCause(Exception exception) =>
        Find<AuthenticationException>(exception)?.InnerException is { } inner ? inner.Message.TrimEnd('.') : "no certificate problem was found; the protocol negotiation failed or the server ended the handshake";

    private static (WebSocketConnectError, string) ClassifyByCause(Exception exception, Uri uri, string endpoint, WebSocketHandshakeOptions options)
    {
        if (Find<AuthenticationException>(exception) is not null)
        {
            return (WebSocketConnectError.Tls, $"The TLS handshake with {endpoint} failed ({TlsCause(exception)}).");
        }

        if (Find<SocketException>(exception) is { } socketException)
        {
            bool proxied = IsProxied(uri, options);
            return socketException.SocketErrorCode switch
            {
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain when proxied =>
                    (WebSocketConnectError.Proxy, $"The proxy for {endpoint} could not be reached: its host name could not be resolved."),
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain =>
                    (WebSocketConnectError.NameResolution, $"The host name '{uri.IdnHost}' could not be resolved."),
                SocketError.ConnectionRefused when proxied =>
                    (WebSocketConnectError.Proxy, $"The proxy for {endpoint} refused the connection."),
                SocketError.ConnectionRefused =>
                    (WebSocketConnectError.ConnectionRefused, $"The server at {endpoint} refused the connection."),
                _ when proxied =>
                    (WebSocketConnectError.Proxy, $"The connection to the proxy for {endpoint} failed ({socketException.SocketErrorCode})."),
                _ =>
                    (WebSocketConnectError.Network, $"The connection to {endpoint} failed ({socketException.SocketErrorCode})."),
            };
        }

        if (Find<IOException>(exception) is not null)
        {
            return (WebSocketConnectError.Network, $"The connection to {endpoint} failed during the handshake.");
        }

        return (WebSocketConnectError.Unknown, $"The WebSocket connection to {endpoint} could not be opened.");
    }

    /// <summary>Whether the connect to <paramref name="uri"/> goes through a proxy, so connection failures are the proxy's.</summary>
    private static bool IsProxied(Uri uri, WebSocketHandshakeOptions options) =>
        // With the caller's invoker the proxy is unknown; a proxy that cannot answer does not change
        // the classification either.
        options.HttpMessageInvoker is null &&
        ProxyRules.IsProxied(uri, options, HttpClient.DefaultProxy, whenUnknown: false);

    private static T? Find<T>(Exception? exception)
        where T : Exception
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is T match)
            {
                return match;
            }
        }

        return null;
    }
}
