namespace Duplex.Tests.Conformance;

/// <summary>
/// A pass-through stream that makes a fast peer deterministic. The first write whose first byte is
/// <paramref name="heldFirstByte"/> (0x89 a Ping, 0x88 a Close) goes to the network at once, but returns to the
/// client only after the client has dealt with the peer's reaction: its receive loop read data and came back for
/// more, or it closed the stream. On a real network that ordering happens whenever the peer reacts faster than the
/// sending thread gets to run its next statement.
/// </summary>
internal sealed class HeldWriteStream(Stream inner, byte heldFirstByte) : Stream
{
    private static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(5);

    private readonly ManualResetEventSlim _reactionProcessed = new();
    private int _state; // 0 waiting for the frame, 1 holding its write, 2 reaction read, 3 done

    /// <summary>Whether the write was actually held until the client had dealt with the peer's reaction.</summary>
    public bool Held { get; private set; }

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
        // Coming back for more after the reaction was read: everything in it has been processed.
        if (Volatile.Read(ref _state) == 2)
        {
            _reactionProcessed.Set();
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
        if (buffer.Length == 0 || buffer.Span[0] != heldFirstByte || Interlocked.CompareExchange(ref _state, 1, 0) != 0)
        {
            return inner.WriteAsync(buffer, cancellationToken);
        }

        // Synchronously: the caller must not run on before the client has dealt with the reaction.
        inner.WriteAsync(buffer, cancellationToken).AsTask().GetAwaiter().GetResult();
        inner.FlushAsync(cancellationToken).GetAwaiter().GetResult();
        Held = _reactionProcessed.Wait(HoldLimit, CancellationToken.None);
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
            // Closing the stream is a reaction too; the event is never disposed, since a held write may still
            // be waiting on it.
            _reactionProcessed.Set();
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
