namespace Duplex.Handshake;

/// <summary>
/// What the server answered to a successful opening handshake: where the connection ended up, over
/// which HTTP version, the response headers, and what was negotiated.
/// </summary>
/// <remarks>Immutable and therefore thread-safe.</remarks>
public sealed class WebSocketHandshakeResponse
{
    /// <summary>Creates a response description.</summary>
    /// <param name="uri">The URI the connection was opened to, after any redirects (<c>ws</c> or <c>wss</c> scheme).</param>
    /// <param name="statusCode">The HTTP status code: 101 for HTTP/1.1, 200 for HTTP/2.</param>
    /// <param name="httpVersion">The HTTP version of the response.</param>
    /// <param name="headers">The response headers, names compared case-insensitively.</param>
    /// <param name="subProtocol">The subprotocol the server selected, if any.</param>
    /// <param name="extensions">The <c>Sec-WebSocket-Extensions</c> value the server answered with, if any.</param>
    public WebSocketHandshakeResponse(
        Uri uri,
        int statusCode,
        Version httpVersion,
        IReadOnlyDictionary<string, IReadOnlyList<string>> headers,
        string? subProtocol,
        string? extensions)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(httpVersion);
        ArgumentNullException.ThrowIfNull(headers);
        Uri = uri;
        StatusCode = statusCode;
        HttpVersion = httpVersion;
        Headers = headers;
        SubProtocol = subProtocol;
        Extensions = extensions;
    }

    /// <summary>The URI the connection was opened to, after any redirects, with a <c>ws</c> or <c>wss</c> scheme.</summary>
    public Uri Uri { get; }

    /// <summary>The HTTP status code: 101 (Switching Protocols) for HTTP/1.1, 200 for HTTP/2 (RFC 8441).</summary>
    public int StatusCode { get; }

    /// <summary>The HTTP version the handshake ran over (1.1 or 2.0).</summary>
    public Version HttpVersion { get; }

    /// <summary>The response headers, names compared case-insensitively; a header sent several times has several values.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; }

    /// <summary>
    /// The subprotocol the server selected from those offered (spelled as offered), or
    /// <see langword="null"/> when it selected none.
    /// </summary>
    public string? SubProtocol { get; }

    /// <summary>The negotiated <c>Sec-WebSocket-Extensions</c> value, or <see langword="null"/> when no extension is in use.</summary>
    public string? Extensions { get; }
}
