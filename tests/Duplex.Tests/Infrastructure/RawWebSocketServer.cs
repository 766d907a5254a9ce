using System.Net.Sockets;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// A scriptable TCP server on 127.0.0.1 for tests that need exact control of what a WebSocket client receives:
/// malformed handshakes, hostile frames, slow or dropped connections.
/// </summary>
/// <remarks>
/// The listener starts in the constructor on an OS-chosen port. Accepted connections are owned by the server and
/// disposed with it. Every wait is bounded by a timeout and a cancellation token.
/// </remarks>
public sealed class RawWebSocketServer : IAsyncDisposable
{
    private readonly LoopbackListener _listener;
    private readonly List<RawConnection> _connections = [];
    private readonly Lock _connectionsLock = new();
    private int _disposed;

    /// <summary>Starts listening.</summary>
    /// <param name="port">The port; 0 (the default) lets the operating system choose.</param>
    public RawWebSocketServer(int port = 0)
    {
        _listener = new LoopbackListener(port);
    }

    /// <summary>The port the server listens on.</summary>
    public int Port => _listener.Port;

    /// <summary>The server's address, <c>ws://127.0.0.1:{port}/</c>.</summary>
    public Uri Uri => _listener.Uri;

    /// <summary>Every connection accepted so far, in order.</summary>
    public IReadOnlyList<RawConnection> Connections
    {
        get
        {
            lock (_connectionsLock)
            {
                return [.. _connections];
            }
        }
    }

    /// <summary>Builds <c>ws://127.0.0.1:{port}{pathAndQuery}</c>.</summary>
    public Uri GetUri(string pathAndQuery) => new(Uri, pathAndQuery);

    /// <summary>Waits for the next TCP connection.</summary>
    /// <exception cref="TimeoutException">No client connected within the timeout.</exception>
    public async Task<RawConnection> AcceptAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var limit = timeout ?? TestTimeouts.Default;
        using var source = TestTimeouts.CreateLinkedSource(limit, cancellationToken);
        TcpClient client;
        try
        {
            client = await _listener.AcceptAsync(source.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"No client connected to {Uri} within {limit}.");
        }

        var connection = new RawConnection(client);
        lock (_connectionsLock)
        {
            _connections.Add(connection);
        }

        return connection;
    }

    /// <summary>
    /// Accepts the next connection, reads its request head and answers with a correct <c>101</c>: the connection is
    /// then ready for frames.
    /// </summary>
    public async Task<RawConnection> AcceptWebSocketAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TestTimeouts.Default;
        using var source = TestTimeouts.CreateLinkedSource(limit, cancellationToken);
        var connection = await AcceptAsync(limit, source.Token);
        try
        {
            await connection.ReadRequestAsync(limit, source.Token);
            await connection.AcceptHandshakeAsync(cancellationToken: source.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"The WebSocket handshake on {Uri} did not complete within {limit}.");
        }

        return connection;
    }

    /// <summary>Stops listening and closes every accepted connection. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _listener.Dispose();
        foreach (var connection in Connections)
        {
            await connection.DisposeAsync();
        }
    }
}
