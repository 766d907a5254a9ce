using Microsoft.Extensions.Logging;

namespace Duplex.Diagnostics;

/// <summary>Handshake layer messages, event ids 100–199.</summary>
internal static partial class Log
{
    /// <summary>A connect starts. The URI is redacted with <see cref="Redaction.Uri"/> by the caller.</summary>
    [LoggerMessage(EventId = 100, EventName = "HandshakeConnecting", Level = LogLevel.Debug,
        Message = "Opening WebSocket handshake with {Uri} over HTTP/{HttpVersion}")]
    public static partial void HandshakeConnecting(ILogger logger, string uri, string httpVersion);

    /// <summary>One request header; the value must come from <see cref="Redaction.HeaderValue"/>.</summary>
    [LoggerMessage(EventId = 101, EventName = "HandshakeRequestHeader", Level = LogLevel.Trace,
        Message = "Handshake request header {HeaderName}: {HeaderValue}")]
    public static partial void HandshakeRequestHeader(ILogger logger, string headerName, string headerValue);

    /// <summary>The handshake succeeded.</summary>
    [LoggerMessage(EventId = 102, EventName = "HandshakeSucceeded", Level = LogLevel.Debug,
        Message = "WebSocket handshake with {Uri} succeeded: HTTP {StatusCode} over HTTP/{HttpVersion}, subprotocol {SubProtocol}, extensions {Extensions}")]
    public static partial void HandshakeSucceeded(ILogger logger, string uri, int statusCode, string httpVersion, string? subProtocol, string? extensions);

    /// <summary>One response header; the value must come from <see cref="Redaction.HeaderValue"/>.</summary>
    [LoggerMessage(EventId = 103, EventName = "HandshakeResponseHeader", Level = LogLevel.Trace,
        Message = "Handshake response header {HeaderName}: {HeaderValue}")]
    public static partial void HandshakeResponseHeader(ILogger logger, string headerName, string headerValue);

    /// <summary>The server answered with a status that does not open a WebSocket.</summary>
    [LoggerMessage(EventId = 104, EventName = "HandshakeRejected", Level = LogLevel.Information,
        Message = "The server at {Uri} rejected the WebSocket handshake with HTTP {StatusCode} {ReasonPhrase}")]
    public static partial void HandshakeRejected(ILogger logger, string uri, int statusCode, string? reasonPhrase);

    /// <summary>A redirect is followed.</summary>
    [LoggerMessage(EventId = 105, EventName = "HandshakeRedirect", Level = LogLevel.Information,
        Message = "Following HTTP {StatusCode} redirect {RedirectCount} from {Uri} to {Location}")]
    public static partial void HandshakeRedirect(ILogger logger, int statusCode, int redirectCount, string uri, string location);

    /// <summary>Secret headers were not carried across a redirect to another origin.</summary>
    [LoggerMessage(EventId = 106, EventName = "HandshakeRedirectHeadersDropped", Level = LogLevel.Debug,
        Message = "The redirect leaves the origin; {Count} authorization, cookie or secret header(s) are not sent to {Location}")]
    public static partial void HandshakeRedirectHeadersDropped(ILogger logger, int count, string location);

    /// <summary>Certificate validation is off; logged at every connect.</summary>
    [LoggerMessage(EventId = 107, EventName = "AcceptAnyCertificate", Level = LogLevel.Warning,
        Message = "TLS certificate validation is turned off (AcceptAnyCertificate) for {Uri}: the server is not authenticated and the connection can be intercepted")]
    public static partial void AcceptAnyCertificate(ILogger logger, string uri);

    /// <summary>The handshake failed; the exception says why and the client reports it.</summary>
    [LoggerMessage(EventId = 108, EventName = "HandshakeFailed", Level = LogLevel.Debug,
        Message = "WebSocket handshake with {Uri} failed ({Error})")]
    public static partial void HandshakeFailed(ILogger logger, string uri, WebSocketConnectError error, Exception exception);

    /// <summary>HTTP/2 could not be used; the handshake is retried as an HTTP/1.1 upgrade.</summary>
    [LoggerMessage(EventId = 109, EventName = "HandshakeHttp2Fallback", Level = LogLevel.Debug,
        Message = "The server at {Uri} does not support WebSockets over HTTP/2 ({Reason}); falling back to HTTP/1.1")]
    public static partial void HandshakeHttp2Fallback(ILogger logger, string uri, string reason);

    /// <summary>The handshake was canceled by the caller.</summary>
    [LoggerMessage(EventId = 110, EventName = "HandshakeCanceled", Level = LogLevel.Debug,
        Message = "WebSocket handshake with {Uri} was canceled")]
    public static partial void HandshakeCanceled(ILogger logger, string uri);
}
