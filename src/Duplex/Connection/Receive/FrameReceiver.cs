using System.Buffers;
using System.Net.WebSockets;
using Duplex.Protocol;
using Microsoft.Extensions.Logging;

namespace Duplex.Connection.Receive;

/// <summary>
/// The one loop that reads a connection's socket: decodes frames, hands message data to the
/// application one read at a time through the <see cref="ReceiveQueue"/> (waiting while it is full:
/// backpressure), and passes every control frame, the end of the stream and any protocol violation
/// to its connection, which decides what they mean. Owns the decoder, the read buffers and the
/// moment bytes last arrived.
/// </summary>
/// <remarks>
/// The loop never waits for application code, and the application's code never runs the loop; on a
/// <see cref="ReceiveThread"/> it parks while the caller it woke runs on its thread, for at most
/// <see cref="ReceiveThread.TakeOverAfter"/> before another thread takes it over. Its state is its own:
/// only the loop (and, while the loop waits in a large frame, the receive call it handed the frame to,
/// see <see cref="FrameHandOver"/>) touches the decoder.
/// </remarks>
internal sealed class FrameReceiver
{
    /// <summary>
    /// Messages larger than this reach the receive queue in pieces of this size, so a big message
    /// can be streamed to the application while it arrives.
    /// </summary>
    public const int ChunkSize = 1024 * 1024;

    /// <summary>
    /// When at least this much of a data frame is still to come, it is read straight into the
    /// message's chunk instead of through the read buffer: one copy less, and fewer, larger reads.
    /// </summary>
    public const int DirectReadThreshold = 8 * 1024;

    /// <summary>
    /// While reads keep filling their buffer, the read buffer grows up to this size (or stays at
    /// <see cref="WebSocketConnectionOptions.ReceiveBufferSize"/> when that is larger); below the
    /// large-object heap's threshold, so a pool miss never costs a large-object allocation.
    /// </summary>
    private const int StreamingReadSize = 64 * 1024;

    private readonly WebSocketConnection _connection;
    private readonly FrameDecoder _decoder;
    private readonly ReceiveQueue _queue;
    private readonly TimeProvider _time;
    private readonly int _bufferSize;
    private FrameHandOver? _handOver;
    private ReceiveThread? _thread; // with DedicatedReceiveThread: the stream blocks, and the loop runs on a thread of its own
    private long _lastReceivedTimestamp;
    private long _reads;

    // Set while the loop waits for room in the queue: nobody reads the socket because the application
    // has not read what came.
    private volatile bool _waitingForRoom;

    public FrameReceiver(WebSocketConnection connection, ReceiveQueue queue, TimeProvider time, long maxMessageSize, int bufferSize)
    {
        _connection = connection;
        _queue = queue;
        _time = time;
        _bufferSize = bufferSize;
        _decoder = new FrameDecoder(maxMessageSize);
        _lastReceivedTimestamp = time.GetTimestamp();
    }

    /// <summary>The decoder; the loop's, and while it waits in a large frame, the receive call's it handed the frame to.</summary>
    public FrameDecoder Decoder => _decoder;

    /// <summary>The stop in a large frame for a receive call; null before the first.</summary>
    public FrameHandOver? HandOver => Volatile.Read(ref _handOver);

    /// <summary>Whether the loop waits for room in the queue (or for a receive call to read an offered frame).</summary>
    public bool WaitingForApplication => _waitingForRoom || HandOver?.Holding == true;

    /// <summary>
    /// When bytes last arrived from the peer (any frame, Pongs included), as a
    /// <see cref="TimeProvider.GetTimestamp"/> value; the moment the connection opened before that.
    /// </summary>
    public long LastReceivedTimestamp => Volatile.Read(ref _lastReceivedTimestamp);

    /// <summary>How many times bytes arrived so far (see <see cref="MarkReceived"/>).</summary>
    public long Reads => Volatile.Read(ref _reads);

    /// <summary>Bytes arrived now.</summary>
    public void MarkReceived()
    {
        Volatile.Write(ref _lastReceivedTimestamp, _time.GetTimestamp());

        // One writer at a time: the loop, or the receive call it handed a large frame to.
        Volatile.Write(ref _reads, _reads + 1);
    }

    /// <summary>The receive thread, when the loop runs on one (<see cref="RunOnThreadAsync"/>); null otherwise.</summary>
    public ReceiveThread? Thread => _thread;

    /// <summary>Queues a batch for the application, waiting (backpressure) while the queue is full.</summary>
    public ValueTask EnqueueAsync(ReceivedBatch? batch, byte[]? readBuffer, bool deferWake = false)
    {
        if (batch is null || batch.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        batch.ReadBuffer = readBuffer;
        if (_queue.TryWrite(batch, deferWake))
        {
            return ValueTask.CompletedTask;
        }

        if (_thread is not null)
        {
            // The receive thread waits for room itself (blocked, as its reads are), so that the loop stays
            // on it; a reader whose wake was deferred goes to the thread pool to make that room.
            _queue.WakeDeferredReader(inline: false);
            EnqueueSlowAsync(batch).AsTask().GetAwaiter().GetResult();
            return ValueTask.CompletedTask;
        }

        return EnqueueSlowAsync(batch);
    }

    /// <summary>
    /// Reads <paramref name="stream"/>, whose calls block (<see cref="Handshake.Transports.BlockingNetworkStream"/>),
    /// on a thread of its own until the connection ends (see <see cref="ReceiveThread"/>); never throws.
    /// </summary>
    public Task RunOnThreadAsync(Stream stream, CancellationToken abort, ILogger logger)
    {
        _thread = new ReceiveThread(_queue, _time, logger);
        return _thread.Start(() => RunAsync(stream, abort));
    }

    /// <summary>Reads <paramref name="stream"/> until the connection ends; never throws.</summary>
    public async Task RunAsync(Stream stream, CancellationToken abort)
    {
        // Let the caller that started the connection go on before the first read (a receive thread is
        // a thread of its own already).
        ReceiveThread? thread = _thread;
        if (thread is null)
        {
            await Task.Yield();
        }

        // Teardown disposes the stream; where that ends a pending read, the reads take no token (abort is
        // none), so an idle connection keeps no cancellation registration alive.
        byte[]? buffer = null;
        byte[]? chunk = null;
        int chunkCount = 0;
        ReceivedBatch? batch = null;
        try
        {
            // Each read below: while a reader's wake is deferred (see EnqueueAsync), the read is awaited
            // through ReaderWakingAwaitable, which wakes it; otherwise plainly, which keeps an idle
            // connection's loop a little smaller (no continuation delegate).
            while (true)
            {
                if (thread is not null && _queue.HasDeferredWake)
                {
                    // On a receive thread the next read blocks: the reader runs here first, then the loop
                    // reads again (on this thread, or on the one that took over meanwhile).
                    await thread.LetReaderRun();
                }

                long remaining = _decoder.DataFrameRemaining;
                // RFC 7692: a compressed frame is inflated as the application reads it, never read raw into
                // its buffer; a blocking stream is never handed to a receive call.
                if (remaining >= DirectReadThreshold && !_decoder.MessageCompressed && thread is null && FrameHandOver.ShouldOffer(stream, _queue))
                {
                    // A receive call with room waits: it reads the rest of this frame itself, after what
                    // this loop has of the message so far.
                    if (chunk is not null)
                    {
                        ReceivedBatch sofar = ReceivedBatch.Take(ref _queue.SpareBatch);
                        sofar.Add(new ReceivedBatch.Piece(chunk, 0, chunkCount, ToMessageType(_decoder.MessageOpcode), EndOfMessage: false, Owned: true));
                        chunk = null;
                        chunkCount = 0;
                        await EnqueueAsync(sofar, null, deferWake: true).ConfigureAwait(false);
                    }

                    if (buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = null;
                    }

                    // Awaited here, in the loop itself: the receive call may continue on this thread.
                    // A read of the receive call's that failed is rethrown here and ends the loop as its own would.
                    int handedBack = await new ReaderWakingAwaitable<int>(new ValueTask<int>(OfferFrame()), _queue);
                    if ((HandBackReason)handedBack == HandBackReason.EndOfStream)
                    {
                        _connection.OnEndOfStream();
                        return;
                    }

                    if ((HandBackReason)handedBack == HandBackReason.Violation)
                    {
                        await OnViolationAsync(stream, null, null).ConfigureAwait(false);
                        return;
                    }

                    continue;
                }

                if (chunk is not null && remaining >= DirectReadThreshold)
                {
                    // The middle of a large frame: read it straight into the message's chunk.
                    int want = (int)Math.Min(remaining, ChunkSize - chunkCount);
                    Reserve(ref chunk, chunkCount, want);
                    ValueTask<int> directRead = stream.ReadAsync(chunk.AsMemory(chunkCount, want), abort);
                    int direct = _queue.HasDeferredWake
                        ? await new ReaderWakingAwaitable<int>(directRead, _queue)
                        : await directRead.ConfigureAwait(false);
                    if (direct == 0)
                    {
                        _connection.OnEndOfStream();
                        return;
                    }

                    MarkReceived();
                    if (_decoder.Decode(chunk.AsSpan(chunkCount, direct), out _, out DecodedFrame piece) == DecodeStatus.Violation)
                    {
                        await OnViolationAsync(stream, null, null).ConfigureAwait(false);
                        return;
                    }

                    chunkCount += direct;
                    if (piece.EndOfMessage || chunkCount >= ChunkSize)
                    {
                        ReceivedBatch pieces = ReceivedBatch.Take(ref _queue.SpareBatch);
                        pieces.Add(new ReceivedBatch.Piece(chunk, 0, chunkCount, ToMessageType(piece.Opcode), piece.EndOfMessage, Owned: true, _decoder.MessageCompressed));
                        chunk = null;
                        chunkCount = 0;
                        await EnqueueAsync(pieces, null).ConfigureAwait(false);
                    }

                    continue;
                }

                if (buffer is null)
                {
                    // An idle connection holds no receive buffer: wait for data with a zero-byte
                    // read, and rent the buffer only once bytes are there.
                    ValueTask<int> dataArrives = stream.ReadAsync(Memory<byte>.Empty, abort);
                    _ = _queue.HasDeferredWake
                        ? await new ReaderWakingAwaitable<int>(dataArrives, _queue)
                        : await dataArrives.ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(_bufferSize);
                }

                ValueTask<int> bufferRead = stream.ReadAsync(buffer, abort);
                int read = _queue.HasDeferredWake
                    ? await new ReaderWakingAwaitable<int>(bufferRead, _queue)
                    : await bufferRead.ConfigureAwait(false);
                if (read == 0)
                {
                    _connection.OnEndOfStream();
                    return;
                }

                MarkReceived();
                bool bufferInBatch = false;
                int position = 0;
                while (position < read)
                {
                    int start = position;
                    DecodeStatus status = _decoder.Decode(buffer.AsSpan(start, read - start), out int consumed, out DecodedFrame frame);
                    position += consumed;
                    if (status == DecodeStatus.NeedMoreData)
                    {
                        break;
                    }

                    if (status == DecodeStatus.Data)
                    {
                        batch ??= ReceivedBatch.Take(ref _queue.SpareBatch);
                        WebSocketMessageType type = ToMessageType(frame.Opcode);
                        if (frame.EndOfMessage && chunkCount == 0)
                        {
                            // A whole message inside this read: the application reads it in place.
                            batch.Add(frame.Count == 0
                                ? new ReceivedBatch.Piece([], 0, 0, type, EndOfMessage: true, Owned: false, _decoder.MessageCompressed)
                                : new ReceivedBatch.Piece(buffer, start + frame.Offset, frame.Count, type, EndOfMessage: true, Owned: false, _decoder.MessageCompressed));
                            bufferInBatch |= frame.Count != 0;
                        }
                        else
                        {
                            // A message that spans reads or frames is copied into chunks of its own,
                            // made big enough for the rest of this frame at once (its length is known),
                            // so a frame that straddles reads is not copied again to grow its chunk.
                            if (frame.Count > 0)
                            {
                                long frameRest = _decoder.DataFrameRemaining;
                                Reserve(ref chunk, chunkCount, (int)Math.Min(frame.Count + frameRest, Math.Max(frame.Count, ChunkSize - chunkCount)));
                            }

                            Append(ref chunk, ref chunkCount, buffer.AsSpan(start + frame.Offset, frame.Count));
                            if (frame.EndOfMessage || chunkCount >= ChunkSize)
                            {
                                batch.Add(new ReceivedBatch.Piece(chunk ?? [], 0, chunkCount, type, frame.EndOfMessage, Owned: chunk is not null, _decoder.MessageCompressed));
                                chunk = null;
                                chunkCount = 0;
                            }
                        }
                    }
                    else if (status == DecodeStatus.Control)
                    {
                        if (frame.Opcode == Opcode.Close)
                        {
                            // Everything before the Close reaches the application first.
                            await EnqueueAsync(batch, bufferInBatch ? buffer : null).ConfigureAwait(false);
                            batch = null;
                            if (bufferInBatch)
                            {
                                buffer = null;
                            }

                            await _connection.OnCloseFrameAsync(stream, _decoder.CloseStatus, _decoder.CloseReason).ConfigureAwait(false);
                            return;
                        }

                        _connection.OnControlFrame(frame.Opcode, _decoder.ControlPayload);
                    }
                    else
                    {
                        // Nothing after the violating frame is looked at, not even the rest of this read.
                        ReceivedBatch? before = batch;
                        batch = null;
                        byte[]? beforeBuffer = bufferInBatch ? buffer : null;
                        if (bufferInBatch)
                        {
                            buffer = null;
                        }

                        await OnViolationAsync(stream, before, beforeBuffer).ConfigureAwait(false);
                        return;
                    }
                }

                bool drained = read < buffer.Length;
                if (batch is { Count: > 0 })
                {
                    // With the socket drained, the next read will most likely wait: the application
                    // is woken once it does, on this thread (see ReaderWakingAwaitable).
                    await EnqueueAsync(batch, bufferInBatch ? buffer : null, deferWake: drained).ConfigureAwait(false);
                    batch = null;
                }

                // A read that filled its buffer means data is streaming: the next read gets a buffer
                // twice as big, up to StreamingReadSize (fewer reads, and fewer messages cut in two by
                // the end of a read, which costs them a copy). A buffer that came back full wastes
                // nothing while it waits in the queue; once the socket is drained, reads start again
                // from the configured size.
                int nextSize = Math.Max(_bufferSize, Math.Min(buffer.Length * 2, StreamingReadSize));
                if (bufferInBatch)
                {
                    // The batch owns the read buffer now; the next read gets a fresh one.
                    buffer = drained ? null : ArrayPool<byte>.Shared.Rent(nextSize);
                }
                else if (drained)
                {
                    // The socket is drained for now: give the buffer back before waiting again.
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
                else if (buffer.Length < nextSize)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = ArrayPool<byte>.Shared.Rent(nextSize);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or System.Net.Sockets.SocketException)
        {
            _connection.OnReadFailed(ex);
        }
        catch (Exception ex)
        {
            // Never leave the loop with an unobserved fault: whatever happened ends the connection.
            _connection.OnReceiveFailed(ex);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (chunk is not null)
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
    }

    /// <summary>Offers the large frame the loop stands in to the waiting receive call (see <see cref="FrameHandOver"/>).</summary>
    private Task<int> OfferFrame()
    {
        FrameHandOver handOver = _handOver ??= new FrameHandOver(this, _queue);
        Task<int> returned = handOver.Offer();

        // Checked after the offer is published, as PingAsync takes an offered frame back after
        // registering its Ping: a Ping sent before the offer gets its Pong even if the application
        // then stops reading in the middle of the frame.
        if (_connection.NeedsTheSocketRead)
        {
            handOver.TakeBack();
        }

        return returned;
    }

    /// <summary>
    /// The peer broke the protocol (the decoder's violation says how): the connection decides; the
    /// messages that arrived whole before the violation (<paramref name="before"/>, which holds
    /// <paramref name="readBuffer"/> when not null) are queued for the application first, and nothing
    /// after the violating frame is looked at (RFC 6455 §7.1.7).
    /// </summary>
    private async Task OnViolationAsync(Stream stream, ReceivedBatch? before, byte[]? readBuffer)
    {
        PendingViolation? pending = _connection.BeginViolation(_decoder.Violation);
        if (pending is null)
        {
            // Torn down before it could see the violation: nothing is left to fail or deliver.
            if (before is not null)
            {
                before.ReadBuffer = readBuffer;
                before.Release();
            }

            return;
        }

        await EnqueueAsync(before, readBuffer).ConfigureAwait(false);
        await _connection.FinishViolationAsync(stream, pending).ConfigureAwait(false);
    }

    public static WebSocketMessageType ToMessageType(Opcode opcode) =>
        opcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;

    private static void Append(ref byte[]? chunk, ref int count, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        Reserve(ref chunk, count, data.Length);
        data.CopyTo(chunk.AsSpan(count));
        count += data.Length;
    }

    /// <summary>Makes room for <paramref name="more"/> bytes after the first <paramref name="count"/> of a pooled chunk.</summary>
    private static void Reserve([System.Diagnostics.CodeAnalysis.NotNull] ref byte[]? chunk, int count, int more)
    {
        int needed = count + more;
        if (chunk is not null && chunk.Length >= needed)
        {
            return;
        }

        byte[] bigger = ArrayPool<byte>.Shared.Rent(chunk is null ? needed : Math.Max(needed, Math.Min(chunk.Length * 2, ChunkSize)));
        if (chunk is not null)
        {
            chunk.AsSpan(0, count).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(chunk);
        }

        chunk = bigger;
    }

    private async ValueTask EnqueueSlowAsync(ReceivedBatch batch)
    {
        _waitingForRoom = true;
        try
        {
            do
            {
                await _queue.WaitForSpaceAsync().ConfigureAwait(false);
            }
            while (!_queue.TryWrite(batch));
        }
        finally
        {
            _waitingForRoom = false;
        }
    }
}
