using System.Buffers;
using System.Net.WebSockets;
using Duplex.Protocol;

namespace Duplex.Connection.Send;

/// <summary>
/// The frames a connection has accepted and not yet handed to the network: masked frames packed
/// into pooled segments, in the order they go out, so the whole messages a failed connection never
/// wrote can be handed back (unmasked, as sent). Pure bookkeeping: no stream, no task, no lock — its
/// owner (<see cref="FrameSender"/>) guards it.
/// </summary>
/// <remarks>
/// Frames never straddle segments, and segments are written whole, so the frames never written are
/// those of the segments not fully written. They are our own frames, so when a connection fails the
/// buffer reads them back to find its whole messages: a Text or Binary frame with FIN set is one,
/// unless it ended a message sent in fragments (<see cref="Append(Opcode, bool, ReadOnlySpan{byte}, bool)"/>
/// with <c>wholeMessage</c> unset), which is noted apart — rare, so a stream of messages costs no
/// bookkeeping per message.
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

    // Written segments kept for the next tails while the writer is busy (see Idle): segments are rented
    // by senders and returned by the writer, on other threads, and a stream of sends would otherwise
    // pass every one of them through the pool, which misses (and allocates) once more of them are in
    // flight than it keeps per core. At most what the send buffer limit lets pile up, and none once idle.
    private List<byte[]>? _spareArrays;

    private long _bufferedBytes;
    private long _appendedTicket;

    // Stream positions: bytes ever appended, bytes in segments fully written, and where the frames
    // not yet handed back by TakeUnsentMessages start.
    private long _appendedPosition;
    private long _writtenPosition;
    private long _handedBackPosition;

    // The positions of single Text or Binary frames with FIN set that are not whole messages of their
    // own (a fragmented send whose first frame was also its last), not yet written; usually none.
    private List<long>? _notWholeMessages;

    // With permessage-deflate: the whole compressed messages not yet written, oldest first, each with a
    // pooled copy of its uncompressed payload — a compressed frame cannot be inflated back out of the
    // middle of the compressor's context, so an unsent one is handed back from this copy.
    private List<CompressedOriginal>? _compressedOriginals;
    private long _originalBytes;

    // RFC 6455 §5.5.3: an endpoint may answer only the most recent of several Pings; the Pong owed
    // waits here, a newer Ping overwrites it, and it joins the buffer with the next batch.
    private byte[]? _owedPong;
    private int _owedPongLength = -1;

    /// <summary>Bytes of frames appended and not yet written.</summary>
    public long BufferedBytes => _bufferedBytes;

    /// <summary>
    /// What the buffer holds for frames not yet written: the frames, and the pooled arrays of the uncompressed
    /// copies kept of the compressed messages among them. What the send buffer limit bounds, so that highly
    /// compressible messages behind a peer that does not read cannot pin much more than it.
    /// </summary>
    public long HeldBytes => _bufferedBytes + _originalBytes;

    /// <summary>The ticket of the last frame appended (tickets count frames from 1).</summary>
    public long AppendedTicket => _appendedTicket;

    /// <summary>Whether a Pong is owed (see <see cref="OwePong"/>).</summary>
    public bool OwesPong => _owedPongLength >= 0;

    /// <summary>Whether any pooled array is held.</summary>
    public bool HoldsArrays => _inFlight is not null || _segments is { Count: > 0 } || _tail is not null || _spareArrays is { Count: > 0 };

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
        long position = _appendedPosition;
        Span<byte> destination = ReserveFrame(opcode, fin, payload.Length, wholeMessage, out int maskKey, rsv);
        PayloadMask.Apply(payload, destination, maskKey, 0);
        if (wholeMessage && rsv != 0)
        {
            byte[] copy = ArrayPool<byte>.Shared.Rent(original.Length);
            original.CopyTo(copy);
            (_compressedOriginals ??= []).Add(new CompressedOriginal(position, copy, original.Length));
            _originalBytes += copy.Length; // what it pins: the pool rounds a rental up
        }

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
            byte[] array = batch[i].Array;
            if (array.Length == SegmentSize)
            {
                (_spareArrays ??= []).Add(array);
            }
            else
            {
                ArrayPool<byte>.Shared.Return(array);
            }
        }

        _inFlight = null;
        _inFlightWritten = 0;
        _bufferedBytes -= bytes;
        batch.Clear();
        _spareSegments = batch;
        while (_notWholeMessages is { Count: > 0 } notWhole && notWhole[0] < _writtenPosition)
        {
            notWhole.RemoveAt(0);
        }
        ReturnCompressedOriginals(before: _writtenPosition);
    }

    /// <summary>
    /// The writer found nothing more to write and stops: the segments kept for the next batches go
    /// back to the pool, so an idle connection holds none.
    /// </summary>
    public void Idle()
    {
        if (_spareArrays is null)
        {
            return;
        }

        foreach (byte[] array in _spareArrays)
        {
            ArrayPool<byte>.Shared.Return(array);
        }

        _spareArrays.Clear();
    }

    /// <summary>
    /// The whole messages appended and never written, oldest first, with their payloads unmasked,
    /// taken out of tracking (call before <see cref="Release"/>). A message in a segment whose write
    /// was interrupted part-way is among them.
    /// </summary>
    public List<UnsentMessage> TakeUnsentMessages()
    {
        var unsent = new List<UnsentMessage>();
        long position = _writtenPosition;
        if (_inFlight is not null)
        {
            for (int i = _inFlightWritten; i < _inFlight.Count; i++)
            {
                position = CollectUnsent(_inFlight[i], position, unsent);
            }
        }

        for (int i = 0; _segments is not null && i < _segments.Count; i++)
        {
            position = CollectUnsent(_segments[i], position, unsent);
        }

        if (_tail is not null)
        {
            CollectUnsent(new Segment(_tail, _tailCount), position, unsent);
        }

        _handedBackPosition = _appendedPosition;
        _notWholeMessages?.Clear();
        ReturnCompressedOriginals(before: long.MaxValue);
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
        _notWholeMessages = null;
        ReturnCompressedOriginals(before: long.MaxValue);
        _handedBackPosition = _appendedPosition;
        Idle();
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
    private Span<byte> ReserveFrame(Opcode opcode, bool fin, int payloadLength, bool wholeMessage, out int maskKey, byte rsv = 0)
    {
        int headerLength = FrameHeader.GetLength(payloadLength, masked: true);
        long position = _appendedPosition;
        Span<byte> frame = Reserve(headerLength + payloadLength);

        // RFC 6455 §5.3: a fresh, unpredictable masking key for every frame.
        maskKey = (_maskKeys ??= new MaskKeySource()).Next();
        FrameHeader.Write(frame, fin, rsv, opcode, payloadLength, masked: true, maskKey);
        if (!wholeMessage && fin && opcode is Opcode.Text or Opcode.Binary)
        {
            (_notWholeMessages ??= []).Add(position);
        }

        return frame.Slice(headerLength, payloadLength);
    }

    /// <summary>
    /// Adds the whole messages among <paramref name="segment"/>'s frames, which start at stream
    /// <paramref name="position"/>, to <paramref name="unsent"/>; returns the position after it.
    /// </summary>
    private long CollectUnsent(Segment segment, long position, List<UnsentMessage> unsent)
    {
        ReadOnlySpan<byte> frames = segment.Array.AsSpan(0, segment.Count);
        while (!frames.IsEmpty)
        {
            // Our own frames, written by ReserveFrame: the header always parses.
            FrameHeader.TryRead(frames, out FrameHeader header, out int headerLength, out _);
            int length = (int)header.PayloadLength;
            if (position >= _handedBackPosition && header.Fin && header.Opcode is Opcode.Text or Opcode.Binary && _notWholeMessages?.Contains(position) != true)
            {
                byte[] payload;
                if ((header.Rsv & FrameHeader.Rsv1) != 0)
                {
                    // A compressed message is handed back as it was given, uncompressed.
                    CompressedOriginal original = _compressedOriginals!.Find(o => o.Position == position);
                    payload = original.Array.AsSpan(0, original.Length).ToArray();
                }
                else
                {
                    payload = length == 0 ? [] : new byte[length];
                    PayloadMask.Apply(frames.Slice(headerLength, length), payload, header.MaskKey, 0);
                }

                unsent.Add(new UnsentMessage(header.Opcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, payload));
            }

            position += headerLength + length;
            frames = frames.Slice(headerLength + length);
        }

        return position;
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

        if (_spareArrays is { Count: > 0 } spares && length <= SegmentSize)
        {
            _tail = spares[^1];
            spares.RemoveAt(spares.Count - 1);
        }
        else
        {
            _tail = ArrayPool<byte>.Shared.Rent(Math.Max(length, SegmentSize));
        }

        _tailCount = length;
        return _tail.AsSpan(0, length);
    }

    /// <summary>Returns the uncompressed copies of the compressed messages that start before <paramref name="before"/>.</summary>
    private void ReturnCompressedOriginals(long before)
    {
        if (_compressedOriginals is null)
        {
            return;
        }

        int done = 0;
        while (done < _compressedOriginals.Count && _compressedOriginals[done].Position < before)
        {
            ArrayPool<byte>.Shared.Return(_compressedOriginals[done].Array);
            _originalBytes -= _compressedOriginals[done].Array.Length;
            done++;
        }

        _compressedOriginals.RemoveRange(0, done);
    }

    /// <summary>Part of the buffer: a pooled array and how much of it holds frames.</summary>
    public readonly record struct Segment(byte[] Array, int Count);

    /// <summary>Where a compressed whole message's frame starts on the stream, and a pooled copy of its uncompressed payload.</summary>
    private readonly record struct CompressedOriginal(long Position, byte[] Array, int Length);
}
