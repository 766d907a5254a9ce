using Duplex.Handshake;
using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// Performs the real opening handshake over TCP with the transport a connection would choose, then hands the framing
/// engine a wrapper around the upgraded stream, so a test can observe or hold the client's reads and writes at exact
/// points.
/// </summary>
internal sealed class WrappingTransport(Func<Stream, Stream> wrap) : IWebSocketTransport
{
    public async Task<WebSocketHandshakeResult> ConnectAsync(Uri uri, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        WebSocketHandshakeResult inner = await WebSocketTransportSelector.Choose(uri, options).ConnectAsync(uri, options, logger, cancellationToken);

        // The inner result stays alive with the wrapper: disposing the wrapper disposes it.
        return new WebSocketHandshakeResult(wrap(inner.Stream), inner.Response, new AsyncDisposer(inner));
    }

    private sealed class AsyncDisposer(WebSocketHandshakeResult inner) : IDisposable
    {
        public void Dispose() => inner.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
