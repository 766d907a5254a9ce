namespace Duplex.Handshake;

/// <summary>
/// One handshake request and the head of its response, on the connection it was sent over: what
/// an <see cref="IHandshakeSender"/> hands to <see cref="OpeningHandshake"/>, which judges it and
/// then either opens the WebSocket on it, reads the start of a rejection's body, or drops it to
/// follow a redirect.
/// </summary>
/// <remarks>
/// The exchange owns the connection until <see cref="OpenAsync"/> hands it over; disposing it
/// before releases the connection. Used by one caller at a time.
/// </remarks>
internal abstract class HandshakeExchange : IAsyncDisposable
{
    /// <summary>Creates an exchange for a response head.</summary>
    /// <param name="statusCode">The HTTP status code.</param>
    /// <param name="reasonPhrase">The reason phrase, if any.</param>
    /// <param name="httpVersion">The HTTP version of the response.</param>
    /// <param name="headers">The response headers (content headers included), names compared case-insensitively.</param>
    /// <param name="expectedAccept">The <c>Sec-WebSocket-Accept</c> value the key that was sent calls for; <see langword="null"/> for HTTP/2, which has no key.</param>
    protected HandshakeExchange(
        int statusCode, string? reasonPhrase, Version httpVersion, IReadOnlyDictionary<string, IReadOnlyList<string>> headers, string? expectedAccept)
    {
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        HttpVersion = httpVersion;
        Headers = headers;
        ExpectedAccept = expectedAccept;
    }

    /// <summary>The HTTP status code.</summary>
    public int StatusCode { get; }

    /// <summary>The reason phrase, if the server sent one.</summary>
    public string? ReasonPhrase { get; }

    /// <summary>The HTTP version of the response.</summary>
    public Version HttpVersion { get; }

    /// <summary>The response headers, names compared case-insensitively.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; }

    /// <summary>The <c>Sec-WebSocket-Accept</c> value expected for an HTTP/1.1 upgrade; <see langword="null"/> for HTTP/2.</summary>
    public string? ExpectedAccept { get; }

    /// <summary>The status that opens a WebSocket over this response's HTTP version: 101, or 200 for HTTP/2 (RFC 8441 §5).</summary>
    public int OpeningStatusCode => HttpVersion.Major >= 2 ? 200 : 101;

    /// <summary>
    /// Hands the connection over as the WebSocket's stream, once the response was judged to open
    /// one. The exchange owns nothing afterwards.
    /// </summary>
    /// <param name="response">What the server answered, for the result.</param>
    /// <param name="cancellationToken">Cancels the hand-over.</param>
    public abstract Task<WebSocketHandshakeResult> OpenAsync(WebSocketHandshakeResponse response, CancellationToken cancellationToken);

    /// <summary>Reads the next part of the response body into <paramref name="buffer"/>; 0 at its end.</summary>
    /// <param name="buffer">Where the body goes.</param>
    /// <param name="cancellationToken">Bounds the wait.</param>
    public abstract ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Releases the connection unless <see cref="OpenAsync"/> handed it over. Never throws.</summary>
    public abstract ValueTask DisposeAsync();
}
