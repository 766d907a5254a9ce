namespace Duplex.Tests.Conformance;

/// <summary>
/// A pass-through stream that makes a fast peer deterministic: the write that carries the client's first Ping goes
/// to the network at once, but only returns after the receive loop has read the answer and come back for more, i.e.
/// after the Pong has been fully processed. On a real network that ordering happens whenever the peer answers
/// faster than the sending thread gets to run its next statement.
/// </summary>
internal sealed class PongBeforeWriteReturnsStream(Stream inner) : Stream
{
    private static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(5);

    private readonly ManualResetEventSlim _answerProcessed = new();
    private int _state; // 0 waiting for the first Ping, 1 holding its write, 2 answer read, 3 done

    /// <summary>Whether the first Ping's write was actually held until its Pong had been processed.</summary>
    public bool HeldPing { get; private set; }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // Coming back for more after the answer was read: everything in it has been processed.
        if (Volatile.Read(ref _state) == 2)
        {
            _answerProcessed.Set();
        }

        int read = await inner.ReadAsync(buffer, cancellationToken);
        if (read > 0)
        {
            Interlocked.CompareExchange(ref _state, 2, 1);
        }

        return read;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        // 0x89: FIN + Ping, the first byte of every Ping the client sends.
        if (buffer.Length == 0 || buffer.Span[0] != 0x89 || Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            return inner.WriteAsync(buffer, cancellationToken);
        }

        // Synchronously: the caller must not run on before the Pong is processed.
        inner.WriteAsync(buffer, cancellationToken).AsTask().GetAwaiter().GetResult();
        inner.FlushAsync(cancellationToken).GetAwaiter().GetResult();
        HeldPing = _answerProcessed.Wait(HoldLimit, cancellationToken);
        Volatile.Write(ref _state, 3);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();

            // Never disposed: a held write may still be waiting on it; setting it lets that write go.
            _answerProcessed.Set();
        }

        base.Dispose(disposing);
    }
}
