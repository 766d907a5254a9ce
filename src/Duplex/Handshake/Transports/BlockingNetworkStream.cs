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
/// read of the socket engine does. A call that blocks ends when data moves or when the stream is
/// disposed (which shuts the socket down), as teardown and the handshake's cancellation do; a call given
/// a token that can be canceled disposes the stream if it is, and ends canceled.
/// </remarks>
internal sealed class BlockingNetworkStream(Socket socket) : NetworkStream(socket, ownsSocket: true)
{
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        // A token given to a blocking call is a deadline (the closing handshake's, a rejected body's): it
        // closes the socket, which ends the call. The receive loop's reads take none, and cost no registration.
        using CancellationTokenRegistration deadline = EndOnCancel(cancellationToken);
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
            return cancellationToken.IsCancellationRequested
                ? ValueTask.FromCanceled<int>(cancellationToken)
                : ValueTask.FromException<int>(ex is SocketException socketError ? new IOException(socketError.Message, socketError) : ex);
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

        using CancellationTokenRegistration deadline = EndOnCancel(cancellationToken);
        try
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            return cancellationToken.IsCancellationRequested ? ValueTask.FromCanceled(cancellationToken) : ValueTask.FromException(ex);
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    /// <summary>While a blocking call runs: disposing the stream when <paramref name="cancellationToken"/> is canceled.</summary>
    private CancellationTokenRegistration EndOnCancel(CancellationToken cancellationToken) =>
        cancellationToken.CanBeCanceled
            ? cancellationToken.UnsafeRegister(static stream => ((Stream)stream!).Dispose(), this)
            : default;

    // Never the socket engine, even through the old asynchronous pattern.
    public override IAsyncResult BeginRead(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) =>
        TaskToAsyncResult.Begin(ReadAsync(buffer, offset, count, CancellationToken.None), callback, state);

    public override int EndRead(IAsyncResult asyncResult) => TaskToAsyncResult.End<int>(asyncResult);

    public override IAsyncResult BeginWrite(byte[] buffer, int offset, int count, AsyncCallback? callback, object? state) =>
        TaskToAsyncResult.Begin(WriteAsync(buffer, offset, count, CancellationToken.None), callback, state);

    public override void EndWrite(IAsyncResult asyncResult) => TaskToAsyncResult.End(asyncResult);

    public override ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
