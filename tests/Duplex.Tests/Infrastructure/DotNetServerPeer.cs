using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// A differential peer: .NET's own WebSocket engine as the server side of a loopback connection. The HTTP/1.1
/// upgrade is done by hand, then the stream is wrapped with <see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/>
/// (<c>IsServer = true</c>, no keepalive), and the test drives the returned <see cref="WebSocket"/>.
/// </summary>
/// <remarks>
/// The listener starts in the constructor on 127.0.0.1 and an OS-chosen port. Accepted sockets are owned by the peer
/// and closed with it. Every wait is bounded by a timeout and a cancellation token.
/// </remarks>
public sealed class DotNetServerPeer : IAsyncDisposable
{
    private readonly LoopbackListener _listener = new();
    private readonly List<TcpClient> _clients = [];
    private readonly List<WebSocket> _webSockets = [];
    private readonly List<RawHttpRequest> _requests = [];
    private readonly Lock _lock = new();
    private int _disposed;

    /// <summary>The port the peer listens on.</summary>
    public int Port => _listener.Port;

    /// <summary><c>ws://127.0.0.1:{port}/</c>.</summary>
    public Uri Uri => _listener.Uri;

    /// <summary>The request heads of every accepted upgrade, in order.</summary>
    public IReadOnlyList<RawHttpRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Builds <c>ws://127.0.0.1:{port}{pathAndQuery}</c>.</summary>
    public Uri GetUri(string pathAndQuery) => new(Uri, pathAndQuery);

    /// <summary>
    /// Accepts the next connection, completes the upgrade and returns .NET's server-side <see cref="WebSocket"/>.
    /// </summary>
    /// <param name="timeout">Bound for accept plus handshake (default <see cref="TestTimeouts.Default"/>).</param>
    /// <param name="subProtocol">A subprotocol to select; it must be among those the client offered.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="TimeoutException">No client completed a handshake within the timeout.</exception>
    /// <exception cref="InvalidDataException">The request was not a WebSocket upgrade (it was answered with 400).</exception>
    public async Task<WebSocket> AcceptAsync(
        TimeSpan? timeout = null, string? subProtocol = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var limit = timeout ?? TestTimeouts.Default;
        using var source = TestTimeouts.CreateLinkedSource(limit, cancellationToken);
        try
        {
            var client = await _listener.AcceptAsync(source.Token);
            client.NoDelay = true;
            lock (_lock)
            {
                _clients.Add(client);
            }

            var stream = client.GetStream();
            var request = await RawHttpRequest.ReadAsync(stream, cancellationToken: source.Token);
            lock (_lock)
            {
                _requests.Add(request);
            }

            var key = request.SecWebSocketKey;
            if (key is null || !request.Headers.TryGetValue("Upgrade", out var upgrade)
                || !upgrade.Contains("websocket", StringComparison.OrdinalIgnoreCase))
            {
                await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), source.Token);
                throw new InvalidDataException($"The request '{request.RequestLine}' is not a WebSocket upgrade.");
            }

            if (subProtocol is not null && !OffersSubProtocol(request, subProtocol))
            {
                throw new InvalidOperationException($"The client did not offer the subprotocol '{subProtocol}'.");
            }

            var response = new StringBuilder()
                .Append("HTTP/1.1 101 Switching Protocols\r\n")
                .Append("Upgrade: websocket\r\n")
                .Append("Connection: Upgrade\r\n")
                .Append("Sec-WebSocket-Accept: ").Append(WebSocketAcceptKey.Compute(key)).Append("\r\n");
            if (subProtocol is not null)
            {
                response.Append("Sec-WebSocket-Protocol: ").Append(subProtocol).Append("\r\n");
            }

            response.Append("\r\n");
            await stream.WriteAsync(Encoding.Latin1.GetBytes(response.ToString()), source.Token);
            await stream.FlushAsync(source.Token);

            var webSocket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
            {
                IsServer = true,
                SubProtocol = subProtocol,
                KeepAliveInterval = TimeSpan.Zero,
            });
            lock (_lock)
            {
                _webSockets.Add(webSocket);
            }

            return webSocket;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No client completed a WebSocket handshake on {Uri} within {limit}.");
        }
    }

    /// <summary>Stops listening, aborts every server-side WebSocket and closes every socket. Never throws.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        _listener.Dispose();
        lock (_lock)
        {
            foreach (var webSocket in _webSockets)
            {
                webSocket.Abort();
                webSocket.Dispose();
            }

            foreach (var client in _clients)
            {
                client.Dispose();
            }
        }

        return ValueTask.CompletedTask;
    }

    private static bool OffersSubProtocol(RawHttpRequest request, string subProtocol) =>
        request.Headers.TryGetValue("Sec-WebSocket-Protocol", out var offered)
        && offered.Split(',', StringSplitOptions.TrimEntries).Contains(subProtocol, StringComparer.Ordinal);
}
