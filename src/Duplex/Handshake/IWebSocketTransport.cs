using Microsoft.Extensions.Logging;

namespace Duplex.Handshake;

/// <summary>
/// Opens a WebSocket: performs the opening handshake and hands back the duplex stream the framing
/// engine runs over. The seam between the Connection layer and the way bytes reach the server.
/// </summary>
/// <remarks>
/// Implementations are thread-safe: one instance serves any number of concurrent connects.
/// </remarks>
internal interface IWebSocketTransport
{
    /// <summary>Performs the opening handshake with <paramref name="uri"/>.</summary>
    /// <param name="uri">A <c>ws</c>, <c>wss</c>, <c>http</c> or <c>https</c> URI without a fragment.</param>
    /// <param name="options">The handshake options; snapshotted at the start, so later edits have no effect.</param>
    /// <param name="logger">Where the handshake logs (never header values above Debug, never secrets).</param>
    /// <param name="cancellationToken">Cancels the connect; surfaces as <see cref="OperationCanceledException"/>.</param>
    /// <returns>The open stream and what the server answered; the caller owns it and must dispose it.</returns>
    /// <exception cref="ArgumentException">The URI or an option is invalid (the message names it).</exception>
    /// <exception cref="WebSocketHandshakeRejectedException">The server answered with a status that does not open a WebSocket.</exception>
    /// <exception cref="WebSocketConnectException">The connect failed; <see cref="WebSocketConnectException.Error"/> says why.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was canceled.</exception>
    Task<WebSocketHandshakeResult> ConnectAsync(Uri uri, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken);
}
