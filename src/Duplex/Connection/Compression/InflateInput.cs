namespace Duplex.Connection.Compression;

/// <summary>
/// What <see cref="MessageInflater"/>'s <see cref="System.IO.Compression.DeflateStream"/> reads: the
/// compressed bytes of the piece being inflated, then, at the end of a message, the
/// <c>00 00 FF FF</c> that RFC 7692 §7.2.2 has the receiver append. Returning 0 means "nothing more
/// for now"; the inflater's state carries on with the next piece.
/// </summary>
internal sealed class InflateInput : Stream
{
    // RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the message."
    private static ReadOnlySpan<byte> Tail => [0x00, 0x00, 0xFF, 0xFF];

    private byte[] _array = [];
    private int _offset;
    private int _count;
    private int _tailLeft;

    /// <summary>How many bytes of the current input were read so far.</summary>
    public int Consumed { get; private set; }

    /// <summary>Whether everything set, the tail included, has been read.</summary>
    public bool Exhausted => Consumed == _count && _tailLeft == 0;

    /// <summary>Serves <paramref name="count"/> bytes of <paramref name="array"/> from <paramref name="offset"/> (then what is left of the tail).</summary>
    public void Set(byte[] array, int offset, int count)
    {
        _array = array;
        _offset = offset;
        _count = count;
        Consumed = 0;
    }

    /// <summary>The message's last bytes are set: the tail follows them (once per message).</summary>
    public void StartTail() => _tailLeft = Tail.Length;

    /// <summary>Forgets any tail still to serve (a message that ended early).</summary>
    public void ResetTail() => _tailLeft = 0;

    /// <summary>Lets go of the current input.</summary>
    public void Clear() => Set([], 0, 0);

    public override int Read(Span<byte> buffer)
    {
        int take = Math.Min(buffer.Length, _count - Consumed);
        _array.AsSpan(_offset + Consumed, take).CopyTo(buffer);
        Consumed += take;

        // The tail only in a read of its own, once the data is used up: a stream the sender ended with
        // a final block (RFC 7692 §7.2.3.4) never asks for it, which is how the inflater tells.
        if (take == 0 && _tailLeft > 0)
        {
            int tail = Math.Min(buffer.Length - take, _tailLeft);
            Tail.Slice(Tail.Length - _tailLeft, tail).CopyTo(buffer.Slice(take));
            _tailLeft -= tail;
            take += tail;
        }

        return take;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
