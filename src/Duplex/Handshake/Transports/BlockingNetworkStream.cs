using System.Net.Sockets;

namespace Duplex.Handshake.Transports;

/// <summary>
/// The stream of a socket used only with blocking calls
/// (<see cref="Connection.WebSocketConnectionOptions.DedicatedReceiveThread"/>): its asynchronous
/// methods read and write synchronously and return completed tasks, so the code above it — the TLS
/// and HTTP handshakes, the framing engine — runs unchanged while the socket never meets the runtime's
/// socket engine. A socket that saw one asynchronous call is registered with that engine's epoll
/// thread for good, and every arrival then wakes that thread and a thread-pool worker, even for a
/// blocking read.
/// </summary>
/// <remarks>
/// A zero-byte read waits, in <c>poll</c>, until data is there (or the connection ends), as a zero-byte
/// read of the socket engine does. Tokens are checked when a call starts; a call that blocks ends when
/// data moves or when the stream is disposed (which shuts the socket down), as teardown and the
/// handshake's cancellation do.
/// </remarks>
internal sealed class BlockingNetworkStream(Socket socket) : NetworkStream(socket, ownsSocket: true)
{
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        try
        {
            if (buffer.IsEmpty)
            {
                // Readable also when the peer closed or the socket was shut down: the next read tells which.
                Socket.Poll(-1, SelectMode.SelectRead);
                return new ValueTask<int>(0);
            }

            return new ValueTask<int>(Read(buffer.Span));
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
        {
            return ValueTask.FromException<int>(ex is SocketException socketError ? new IOException(socketError.Message, socketError) : ex);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        try
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            return ValueTask.FromException(ex);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    public override ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
