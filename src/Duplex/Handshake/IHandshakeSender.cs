using Microsoft.Extensions.Logging;

namespace Duplex.Handshake;

/// <summary>
/// Sends the opening handshake request to one URI and reads the head of the answer: the part of a
/// transport that differs between transports. <see cref="OpeningHandshake"/> drives it, once per
/// URI (redirects send again).
/// </summary>
/// <remarks>
/// An instance serves one connect at a time; it may keep state across its redirects. Disposing it
/// when the connect ends releases what it made for that connect alone (never what an opened
/// WebSocket still needs).
/// </remarks>
internal interface IHandshakeSender : IDisposable
{
    /// <summary>Opens a connection to <paramref name="uri"/>, sends the request and reads the response head.</summary>
    /// <param name="uri">The HTTP form (<c>http</c>/<c>https</c>) of the URI, without user information.</param>
    /// <param name="headers">The caller's request headers (validated; Basic credentials already added).</param>
    /// <param name="options">The validated snapshot of the options.</param>
    /// <param name="logger">Where the request is logged.</param>
    /// <param name="cancellationToken">The open timeout and the caller's cancellation.</param>
    /// <returns>The answer; the caller disposes it unless it opens the WebSocket.</returns>
    Task<HandshakeExchange> SendAsync(
        Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken);
}
