namespace Duplex.Handshake.Transports;

/// <summary>
/// A connection's stream with bytes already read from it put back in front: the frames a server
/// sent in the same segment as its 101 response, which the handshake read together with the head.
/// Reads return those bytes first, then read the inner stream; writes go straight through.
/// </summary>
/// <remarks>
/// The prefix array is released as soon as it is drained, so an idle connection holds no buffer
/// here. A zero-byte read completes at once while prefix bytes remain (data is available) and is
/// passed to the inner stream afterwards. Reads and writes may run concurrently, as on the inner
/// stream; reads must not run concurrently with each other. Disposing disposes the inner stream.
/// </remarks>
internal sealed class PrefixedStream : Stream
{
    private readonly Stream _inner;
    private byte[]? _prefix;
    private int _offset;

    /// <summary>Creates a stream that yields <paramref name="prefix"/> before <paramref name="inner"/>'s bytes.</summary>
    /// <param name="prefix">The bytes to yield first, whole; the stream owns the array.</param>
    /// <param name="inner">The connection; owned.</param>
    public PrefixedStream(byte[] prefix, Stream inner)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentNullException.ThrowIfNull(inner);
        _prefix = prefix.Length > 0 ? prefix : null;
        _inner = inner;
    }

    /// <summary>How many prefix bytes are still to be read.</summary>
    internal int PrefixRemaining => _prefix is null ? 0 : _prefix.Length - _offset;

    /// <inheritdoc />
    public override bool CanRead => _inner.CanRead;

    /// <inheritdoc />
    public override bool CanWrite => _inner.CanWrite;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanTimeout => _inner.CanTimeout;

    /// <inheritdoc />
    public override int ReadTimeout
    {
        get => _inner.ReadTimeout;
        set => _inner.ReadTimeout = value;
    }

    /// <inheritdoc />
    public override int WriteTimeout
    {
        get => _inner.WriteTimeout;
        set => _inner.WriteTimeout = value;
    }

    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();

    /// <inheritdoc />
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    /// <inheritdoc />
    public override int Read(Span<byte> buffer) =>
        _prefix is not null ? ReadPrefix(buffer) : _inner.Read(buffer);

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    /// <inheritdoc />
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_prefix is null)
        {
            return _inner.ReadAsync(buffer, cancellationToken);
        }

        return cancellationToken.IsCancellationRequested
            ? ValueTask.FromCanceled<int>(cancellationToken)
            : ValueTask.FromResult(ReadPrefix(buffer.Span));
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc />
    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 1 ? one[0] : -1;
    }

    /// <inheritdoc />
    public override void Write(ReadOnlySpan<byte> buffer) => _inner.Write(buffer);

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => _inner.Write(buffer, offset, count);

    /// <inheritdoc />
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        _inner.WriteAsync(buffer, cancellationToken);

    /// <inheritdoc />
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        _inner.WriteAsync(buffer, offset, count, cancellationToken);

    /// <inheritdoc />
    public override void WriteByte(byte value) => _inner.WriteByte(value);

    /// <inheritdoc />
    public override void Flush() => _inner.Flush();

    /// <inheritdoc />
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc />
    public override ValueTask DisposeAsync()
    {
        _prefix = null;
        return _inner.DisposeAsync();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _prefix = null;
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private int ReadPrefix(Span<byte> buffer)
    {
        byte[] prefix = _prefix!;
        int count = Math.Min(buffer.Length, prefix.Length - _offset);
        prefix.AsSpan(_offset, count).CopyTo(buffer);
        _offset += count;
        if (_offset == prefix.Length)
        {
            _prefix = null;
            _offset = 0;
        }

        return count;
    }
}
