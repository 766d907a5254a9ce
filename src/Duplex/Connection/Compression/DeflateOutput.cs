using System.Buffers;

namespace Duplex.Connection.Compression;

/// <summary>
/// Where <see cref="MessageDeflater"/>'s <see cref="System.IO.Compression.DeflateStream"/> writes: a
/// pooled buffer that grows as compressed bytes arrive, handed back to the pool after each message.
/// </summary>
internal sealed class DeflateOutput : Stream
{
    private byte[]? _buffer;
    private int _count;

    /// <summary>While set, writes are dropped (the stream's end-of-stream block when it is disposed).</summary>
    public bool Discarding { get; set; }

    /// <summary>The bytes written since the last <see cref="Reset"/>.</summary>
    public Span<byte> Written => _buffer is null ? default : _buffer.AsSpan(0, _count);

    /// <summary>Forgets what was written and gives the buffer back to the pool.</summary>
    public void Reset()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }

        _count = 0;
    }

    /// <summary>Rents room for about <paramref name="expected"/> bytes up front, so the buffer does not grow step by step.</summary>
    public void Reserve(int expected)
    {
        if (_buffer is null && !Discarding)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(expected, 1024));
        }
    }

    /// <summary>Appends one byte (the empty stored block that stands for an empty compressed message).</summary>
    public void Append(byte value) => Write([value]);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (Discarding || buffer.IsEmpty)
        {
            return;
        }

        int needed = _count + buffer.Length;
        if (_buffer is null || _buffer.Length < needed)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer is null ? 1024 : _buffer.Length * 2));
            if (_buffer is not null)
            {
                _buffer.AsSpan(0, _count).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
            }

            _buffer = bigger;
        }

        buffer.CopyTo(_buffer.AsSpan(_count));
        _count = needed;
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
