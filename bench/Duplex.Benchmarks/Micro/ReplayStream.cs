namespace Duplex.Benchmarks.Micro;

/// <summary>
/// An in-memory stand-in for a socket with plenty of data waiting: reads are served at once from a
/// pre-built byte buffer (server frames), writes are counted and dropped at once. Once the buffer
/// is used up, reads wait until the stream is disposed and then report the end of the stream, so
/// a receive loop parks as it would on a quiet socket.
/// </summary>
internal sealed class ReplayStream(byte[] incoming) : Stream
{
    private readonly TaskCompletionSource<int> _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _position;

    public long BytesWritten { get; private set; }

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int left = incoming.Length - _position;
        if (left == 0)
        {
            return new ValueTask<int>(_disposed.Task.WaitAsync(cancellationToken));
        }

        int count = Math.Min(left, buffer.Length);
        incoming.AsSpan(_position, count).CopyTo(buffer.Span);
        _position += count;
        return new ValueTask<int>(count);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        BytesWritten += buffer.Length;
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        BytesWritten += count;
        return Task.CompletedTask;
    }

    public override void Write(byte[] buffer, int offset, int count) => BytesWritten += count;

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        _disposed.TrySetResult(0);
        base.Dispose(disposing);
    }
}
