namespace Duplex;

/// <summary>
/// The server answered the opening handshake with an HTTP status that does not open a WebSocket
/// (for example 401, 403, 404 or 503). Carries what the server said so the caller can act on it.
/// </summary>
public sealed class WebSocketHandshakeRejectedException : WebSocketConnectException
{
    /// <summary>The largest number of body bytes kept in <see cref="Body"/>.</summary>
    public const int MaxBodyBytes = 4096;

    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> s_noHeaders =
        new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Creates an exception with a default message.</summary>
    public WebSocketHandshakeRejectedException()
        : this(0, null, null, string.Empty)
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">One sentence that says what failed.</param>
    public WebSocketHandshakeRejectedException(string message)
        : base(WebSocketConnectError.HandshakeRejected, message)
    {
        Headers = s_noHeaders;
        Body = string.Empty;
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">One sentence that says what failed.</param>
    /// <param name="innerException">The original cause.</param>
    public WebSocketHandshakeRejectedException(string message, Exception? innerException)
        : base(WebSocketConnectError.HandshakeRejected, message, innerException)
    {
        Headers = s_noHeaders;
        Body = string.Empty;
    }

    /// <summary>Creates an exception that describes a rejected handshake.</summary>
    /// <param name="statusCode">The HTTP status code the server answered with.</param>
    /// <param name="reasonPhrase">The HTTP reason phrase, if any.</param>
    /// <param name="headers">The response headers (names compared case-insensitively).</param>
    /// <param name="body">The start of the response body, at most <see cref="MaxBodyBytes"/> bytes decoded as UTF-8.</param>
    /// <param name="retryAfter">The delay the server asked for in a <c>Retry-After</c> header, if any.</param>
    public WebSocketHandshakeRejectedException(
        int statusCode,
        string? reasonPhrase,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? headers,
        string body,
        TimeSpan? retryAfter = null)
        : base(
            WebSocketConnectError.HandshakeRejected,
            $"The server rejected the WebSocket handshake with HTTP {statusCode}{(string.IsNullOrEmpty(reasonPhrase) ? string.Empty : " " + reasonPhrase)}.")
    {
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        Headers = headers ?? s_noHeaders;
        Body = body ?? string.Empty;
        RetryAfter = retryAfter;
    }

    /// <summary>The HTTP status code the server answered with.</summary>
    public int StatusCode { get; }

    /// <summary>The HTTP reason phrase, if the server sent one.</summary>
    public string? ReasonPhrase { get; }

    /// <summary>The response headers, names compared case-insensitively.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; }

    /// <summary>The start of the response body (at most <see cref="MaxBodyBytes"/> bytes), decoded as UTF-8.</summary>
    public string Body { get; }

    /// <summary>The delay the server asked for with <c>Retry-After</c>, if any.</summary>
    public TimeSpan? RetryAfter { get; }
}
