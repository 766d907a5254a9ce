using System.Buffers;
using System.Net.WebSockets;
using Duplex.Protocol;

namespace Duplex.Connection.Send;

/// <summary>
/// The frames a connection has accepted and not yet handed to the network: masked frames packed
/// into pooled segments, in the order they go out, with the boundaries of the whole messages among
/// them, so the messages a failed connection never wrote can be handed back (unmasked, as sent)
/// without reading frames back. Pure bookkeeping: no stream, no task, no lock — its owner
/// (<see cref="FrameSender"/>) guards it.
/// </summary>
/// <remarks>
/// Frames never straddle segments, and segments are written whole, so "this frame reached the
/// network" is a comparison of stream positions: a frame is written once the position written
/// so far has passed its start.
/// </remarks>
internal sealed class SendBuffer
{
    /// <summary>Frames smaller than this are packed together into segments of this size.</summary>
    public const int SegmentSize = 16 * 1024;

    private MaskKeySource? _maskKeys;

    // Full segments waiting, then the open tail; the batch the writer is writing, and how many of
    // its segments are fully written.
    private List<Segment>? _segments;
    private List<Segment>? _spareSegments;
    private byte[]? _tail;
    private int _tailCount;
    private List<Segment>? _inFlight;
    private int _inFlightWritten;

    private long _bufferedBytes;
    private long _appendedTicket;

    // Stream positions: bytes ever appended, and bytes in segments fully written.
    private long _appendedPosition;
    private long _writtenPosition;

    // The whole data messages whose frames are not fully written yet, oldest first: a ring over a
    // pooled array, rented with the first and returned whenever it empties, so a connection that
    // streams messages allocates nothing for them once the pool has the array.
    private MessageMark[]? _marks;
    private int _markHead;
    private int _markCount;

    // RFC 6455 §5.5.3: an endpoint may answer only the most recent of several Pings; the Pong owed
    // waits here, a newer Ping overwrites it, and it joins the buffer with the next batch.
    private byte[]? _owedPong;
    private int _owedPongLength = -1;

    /// <summary>Bytes of frames appended and not yet written.</summary>
    public long BufferedBytes => _bufferedBytes;

    /// <summary>The ticket of the last frame appended (tickets count frames from 1).</summary>
    public long AppendedTicket => _appendedTicket;

    /// <summary>Whether a Pong is owed (see <see cref="OwePong"/>).</summary>
    public bool OwesPong => _owedPongLength >= 0;

    /// <summary>Whether any pooled array is held.</summary>
    public bool HoldsArrays => _inFlight is not null || _segments is { Count: > 0 } || _tail is not null;

    /// <summary>
    /// Appends one masked frame whose payload is <paramref name="payload"/>, masked on its way in (one
    /// pass instead of a copy and a masking pass). Returns the frame's ticket. A frame that is a whole
    /// Text or Binary message (<paramref name="wholeMessage"/>) is kept track of, to be handed back if
    /// it is never written.
    /// </summary>
    public long Append(Opcode opcode, bool fin, ReadOnlySpan<byte> payload, bool wholeMessage)
    {
        Span<byte> destination = ReserveFrame(opcode, fin, payload.Length, wholeMessage, out int maskKey);
        PayloadMask.Apply(payload, destination, maskKey, 0);
        return ++_appendedTicket;
    }

    /// <summary>
    /// Appends one masked frame of a compressed message (RFC 7692 §6: <paramref name="rsv"/> is RSV1 on
    /// its first frame, 0 on the others). A whole message keeps a pooled copy of
    /// <paramref name="original"/>, its uncompressed payload, until it is written, so it can be handed
    /// back as sent if it never is.
    /// </summary>
    public long AppendCompressed(Opcode opcode, bool fin, byte rsv, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> original, bool wholeMessage)
    {
        Span<byte> destination = ReserveFrame(opcode, fin, payload.Length, wholeMessage, out int maskKey, rsv, original);
        PayloadMask.Apply(payload, destination, maskKey, 0);
        return ++_appendedTicket;
    }

    /// <summary>
    /// Appends one masked frame of <paramref name="payloadLength"/> bytes that <paramref name="write"/>
    /// produces from <paramref name="state"/> in place (text encoded straight into the segment).
    /// </summary>
    public long Append<TState>(Opcode opcode, bool fin, int payloadLength, TState state, SpanAction<byte, TState> write, bool wholeMessage)
    {
        Span<byte> destination = ReserveFrame(opcode, fin, payloadLength, wholeMessage, out int maskKey);
        write(destination, state);
        PayloadMask.Apply(destination, maskKey, 0);
        return ++_appendedTicket;
    }

    /// <summary>Records the Pong owed for the latest Ping, replacing one still owed for an earlier Ping.</summary>
    public void OwePong(ReadOnlySpan<byte> payload)
    {
        payload.CopyTo(_owedPong ??= new byte[FrameHeader.MaxControlPayload]);
        _owedPongLength = payload.Length;
    }

    /// <summary>Appends the Pong owed, if any, behind everything buffered (it answers the latest Ping by then).</summary>
    public void AppendOwedPong()
    {
        if (_owedPongLength < 0)
        {
            return;
        }

        int length = _owedPongLength;
        _owedPongLength = -1;
        Append(Opcode.Pong, fin: true, _owedPong.AsSpan(0, length), wholeMessage: false);
    }

    /// <summary>
    /// Takes everything appended as the next batch for the writer (the open tail included), or null
    /// when nothing is waiting; <paramref name="ticket"/> is the last frame's ticket in it.
    /// </summary>
    public List<Segment>? TakeBatch(out long ticket)
    {
        ticket = _appendedTicket;
        if (_tail is not null)
        {
            (_segments ??= []).Add(new Segment(_tail, _tailCount));
            _tail = null;
            _tailCount = 0;
        }

        if (_segments is null || _segments.Count == 0)
        {
            return null;
        }

        List<Segment> batch = _segments;
        _segments = _spareSegments;
        _spareSegments = null;
        _inFlight = batch;
        _inFlightWritten = 0;
        return batch;
    }

    /// <summary>The next segment of the batch in flight reached the stream.</summary>
    public void SegmentWritten()
    {
        _writtenPosition += _inFlight![_inFlightWritten].Count;
        _inFlightWritten++;
    }

    /// <summary>
    /// The whole batch reached the network: its arrays go back to the pool, and the messages in it
    /// stop being tracked.
    /// </summary>
    public void BatchWritten(List<Segment> batch)
    {
        long bytes = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            if (i >= _inFlightWritten)
            {
                _writtenPosition += batch[i].Count;
            }

            bytes += batch[i].Count;
            ArrayPool<byte>.Shared.Return(batch[i].Array);
        }

        _inFlight = null;
        _inFlightWritten = 0;
        _bufferedBytes -= bytes;
        batch.Clear();
        _spareSegments = batch;
        while (_markCount > 0 && _marks![_markHead].Position < _writtenPosition)
        {
            ReturnOriginal(DequeueMark());
        }

        ReturnMarksIfEmpty();
    }

    /// <summary>
    /// The whole messages appended and never written, oldest first, with their payloads unmasked,
    /// taken out of tracking (call before <see cref="Release"/>). A message in a segment whose write
    /// was interrupted part-way is among them.
    /// </summary>
    public List<UnsentMessage> TakeUnsentMessages()
    {
        var unsent = new List<UnsentMessage>(_markCount);
        while (_markCount > 0)
        {
            MessageMark mark = DequeueMark();
            if (mark.Position < _writtenPosition)
            {
                ReturnOriginal(mark);
                continue;
            }

            byte[] payload;
            if (mark.Original is { } original)
            {
                // A compressed message is handed back as it was given, uncompressed.
                payload = original.AsSpan(0, mark.OriginalLength).ToArray();
                ArrayPool<byte>.Shared.Return(original);
            }
            else
            {
                payload = mark.Length == 0 ? [] : new byte[mark.Length];
                PayloadMask.Apply(mark.Array.AsSpan(mark.PayloadOffset, mark.Length), payload, mark.MaskKey, 0);
            }

            unsent.Add(new UnsentMessage(mark.Opcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, payload));
        }

        ReturnMarksIfEmpty();
        return unsent;
    }

    /// <summary>Returns every pooled array and forgets every frame; for a connection that has ended, once the writer let go.</summary>
    public void Release()
    {
        if (_inFlight is not null)
        {
            // Every segment of the failed batch, the written ones too: they go back only with the batch.
            ReturnAll(_inFlight);
            _inFlight = null;
        }

        if (_segments is not null)
        {
            ReturnAll(_segments);
        }

        if (_tail is not null)
        {
            ArrayPool<byte>.Shared.Return(_tail);
            _tail = null;
            _tailCount = 0;
        }

        _spareSegments = null;
        while (_markCount > 0)
        {
            ReturnOriginal(DequeueMark());
        }

        ReturnMarksIfEmpty();
        _owedPongLength = -1;
        _bufferedBytes = 0;

        static void ReturnAll(List<Segment> segments)
        {
            foreach (Segment segment in segments)
            {
                ArrayPool<byte>.Shared.Return(segment.Array);
            }

            segments.Clear();
        }
    }

    /// <summary>Reserves one masked frame, writes its header, and returns where its payload goes (to be written masked with <paramref name="maskKey"/>).</summary>
    private Span<byte> ReserveFrame(Opcode opcode, bool fin, int payloadLength, bool wholeMessage, out int maskKey, byte rsv = 0, ReadOnlySpan<byte> original = default)
    {
        int headerLength = FrameHeader.GetLength(payloadLength, masked: true);
        long position = _appendedPosition;
        Span<byte> frame = Reserve(headerLength + payloadLength);

        // RFC 6455 §5.3: a fresh, unpredictable masking key for every frame.
        maskKey = (_maskKeys ??= new MaskKeySource()).Next();
        FrameHeader.Write(frame, fin, rsv, opcode, payloadLength, masked: true, maskKey);
        if (wholeMessage)
        {
            byte[]? copy = null;
            if (rsv != 0)
            {
                copy = ArrayPool<byte>.Shared.Rent(original.Length);
                original.CopyTo(copy);
            }

            EnqueueMark(new MessageMark(position, _tail!, _tailCount - payloadLength, payloadLength, maskKey, opcode, copy, original.Length));
        }

        return frame.Slice(headerLength, payloadLength);
    }

    private void EnqueueMark(in MessageMark mark)
    {
        if (_marks is null)
        {
            _marks = ArrayPool<MessageMark>.Shared.Rent(16);
            _markHead = 0;
        }
        else if (_markCount == _marks.Length)
        {
            MessageMark[] bigger = ArrayPool<MessageMark>.Shared.Rent(_marks.Length * 2);
            for (int i = 0; i < _markCount; i++)
            {
                bigger[i] = _marks[(_markHead + i) % _marks.Length];
            }

            Array.Clear(_marks);
            ArrayPool<MessageMark>.Shared.Return(_marks);
            _marks = bigger;
            _markHead = 0;
        }

        _marks[(_markHead + _markCount) % _marks.Length] = mark;
        _markCount++;
    }

    private MessageMark DequeueMark()
    {
        MessageMark mark = _marks![_markHead];

        // Cleared as it leaves, so the array goes back to the pool holding no segment.
        _marks[_markHead] = default;
        _markHead = (_markHead + 1) % _marks.Length;
        _markCount--;
        return mark;
    }

    private static void ReturnOriginal(in MessageMark mark)
    {
        if (mark.Original is not null)
        {
            ArrayPool<byte>.Shared.Return(mark.Original);
        }
    }

    private void ReturnMarksIfEmpty()
    {
        if (_markCount == 0 && _marks is not null)
        {
            ArrayPool<MessageMark>.Shared.Return(_marks);
            _marks = null;
        }
    }

    private Span<byte> Reserve(int length)
    {
        _bufferedBytes += length;
        _appendedPosition += length;
        if (_tail is not null && _tail.Length - _tailCount >= length)
        {
            Span<byte> span = _tail.AsSpan(_tailCount, length);
            _tailCount += length;
            return span;
        }

        if (_tail is not null)
        {
            (_segments ??= []).Add(new Segment(_tail, _tailCount));
        }

        _tail = ArrayPool<byte>.Shared.Rent(Math.Max(length, SegmentSize));
        _tailCount = length;
        return _tail.AsSpan(0, length);
    }

    /// <summary>Part of the buffer: a pooled array and how much of it holds frames.</summary>
    public readonly record struct Segment(byte[] Array, int Count);

    /// <summary>Where a whole message's frame starts on the stream, and where its masked payload sits.</summary>
    /// <remarks>A compressed message's uncompressed payload is <see cref="Original"/> (pooled), its first <see cref="OriginalLength"/> bytes.</remarks>
    private readonly record struct MessageMark(long Position, byte[] Array, int PayloadOffset, int Length, int MaskKey, Opcode Opcode, byte[]? Original = null, int OriginalLength = 0);
}
