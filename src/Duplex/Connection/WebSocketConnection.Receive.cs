using System.Buffers;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using Duplex.Diagnostics;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    /// <summary>
    /// Messages larger than this reach the receive queue in pieces of this size, so a big message
    /// can be streamed to the application while it arrives.
    /// </summary>
    internal const int ReceiveChunkSize = 1024 * 1024;

    /// <summary>
    /// When at least this much of a data frame is still to come, it is read straight into the
    /// message's chunk instead of through the read buffer: one copy less, and fewer, larger reads.
    /// </summary>
    private const int DirectReadThreshold = 8 * 1024;

    /// <summary>
    /// While reads keep filling their buffer, the read buffer grows up to this size (or stays at
    /// <see cref="WebSocketConnectionOptions.ReceiveBufferSize"/> when that is larger); below the
    /// large-object heap's threshold, so a pool miss never costs a large-object allocation.
    /// </summary>
    private const int StreamingReadSize = 64 * 1024;

    private readonly FrameDecoder _decoder;
    private readonly ReceiveQueue _incoming;

    // Consumer side (one receive call at a time).
    private int _receiving;
    private ReceivedBatch? _batch;

    // A batch the consumer is done with, for the receive loop's next read.
    private ReceivedBatch? _spareBatch;
    private byte[]? _assembly;
    private int _assemblyCount;

    private long _lastReceivedTimestamp;

    // Set once the peer broke the protocol; the connection is failed for it when the application has
    // taken the messages that came before (see OnViolationAsync).
    private PendingViolation? _violation;

    // Set while nobody reads the socket because the application has not read what came: the receive
    // loop waits for room in the queue, or a large frame waits half read for the next receive call.
    private volatile bool _receivePaused;

    /// <summary>Whether reading the socket waits for the application (see <c>_receivePaused</c>); for tests.</summary>
    internal bool ReceivePaused => _receivePaused;

    /// <summary>
    /// When bytes last arrived from the peer (any frame, Pongs included), as a
    /// <see cref="TimeProvider.GetTimestamp"/> value; the moment the connection opened before that.
    /// </summary>
    internal long LastReceivedTimestamp => Volatile.Read(ref _lastReceivedTimestamp);

    /// <summary>
    /// Receives the next whole message: text as a string, binary as bytes. After the peer closed
    /// cleanly, returns a message of type Close (every time it is called).
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the connection stays open and no data is lost.</param>
    /// <exception cref="WebSocketProtocolException">The peer broke the protocol (the close code sent is in the exception).</exception>
    /// <exception cref="WebSocketClosedException">The connection was lost or failed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<WebSocketMessage> ReceiveMessageAsync(CancellationToken cancellationToken = default)
    {
        EnterReceive();
        try
        {
            WebSocketMessage message;
            while (!TryTakeMessage(out message))
            {
                if (!await NextBatchAsync(cancellationToken).ConfigureAwait(false))
                {
                    return WebSocketMessage.FromClose(RemoteCloseStatus, RemoteCloseStatusDescription);
                }
            }

            return message;
        }
        finally
        {
            ExitReceive();
        }
    }

    /// <summary>
    /// For a consumer that waits with <see cref="WaitForMessagesAsync"/> (the client's message pump,
    /// which so holds no receive state while the connection is idle): the next whole message if the
    /// queue holds all of it now; false when it has to wait.
    /// </summary>
    internal bool TryReceiveMessage(out WebSocketMessage message)
    {
        EnterReceive();
        try
        {
            return TryTakeMessage(out message);
        }
        finally
        {
            ExitReceive();
        }
    }

    /// <summary>
    /// Completes when <see cref="TryReceiveMessage"/> may find more (true), or when the queue has ended
    /// (false: <see cref="MessageAfterEnd"/> tells how). Holds no state machine while it waits.
    /// </summary>
    internal ValueTask<bool> WaitForMessagesAsync()
    {
        if (_incoming.FramesOffered)
        {
            // A whole-message consumer never reads a frame itself: the loop reads it into the queue.
            TakeFrameBack();
        }

        return _incoming.WaitToReadAsync(CancellationToken.None);
    }

    /// <summary>What <see cref="ReceiveMessageAsync"/> gives once the queue has ended: a Close message, or the error.</summary>
    internal WebSocketMessage MessageAfterEnd()
    {
        FailPendingViolation();
        ThrowIfEndedAbnormally();
        return WebSocketMessage.FromClose(RemoteCloseStatus, RemoteCloseStatusDescription);
    }

    /// <summary>
    /// Takes the next whole message from the current batch and, as it runs out, from batches already
    /// queued, without waiting; false when the rest of the message (or any message) is still to come.
    /// Pieces of a message spread over batches gather in the assembly buffer meanwhile.
    /// </summary>
    private bool TryTakeMessage(out WebSocketMessage message)
    {
        while (true)
        {
            if (_batch is null || _batch.IsConsumed)
            {
                RecycleCurrentBatch();
                if (!_incoming.TryRead(out ReceivedBatch? next))
                {
                    message = default;
                    return false;
                }

                _batch = next;
                continue;
            }

            ReceivedBatch batch = _batch;
            ReceivedBatch.Piece piece = batch.Pieces[batch.Next];
            ReadOnlySpan<byte> rest = piece.Span.Slice(batch.NextOffset);
            if (piece.EndOfMessage && _assemblyCount == 0)
            {
                // The common case: the whole message is one piece; only the result allocates.
                message = Materialize(piece.Type, rest);
                AdvancePiece(batch);
                return true;
            }

            AppendToAssembly(rest);
            AdvancePiece(batch);
            if (piece.EndOfMessage)
            {
                message = Materialize(piece.Type, _assembly.AsSpan(0, _assemblyCount));
                ArrayPool<byte>.Shared.Return(_assembly!);
                _assembly = null;
                _assemblyCount = 0;
                return true;
            }
        }
    }

    /// <summary>
    /// Receives the next piece of a message into <paramref name="buffer"/>, for messages too large to
    /// hold at once. <see cref="ValueWebSocketReceiveResult.EndOfMessage"/> marks a message's last
    /// piece. After the peer closed cleanly, returns a result of type Close with count 0. Over a plain
    /// <c>ws://</c> socket, a call with at least 8 KiB of room that waits while a large frame arrives
    /// reads that frame's payload straight into <paramref name="buffer"/> as it comes; the connection
    /// then reads no further until this frame is read on (or handed back by
    /// <see cref="ReceiveMessageAsync"/>, a smaller buffer, <see cref="PingAsync"/> or <see cref="CloseAsync(WebSocketCloseStatus, string?, CancellationToken)"/>).
    /// </summary>
    /// <param name="buffer">Where to copy the data.</param>
    /// <param name="cancellationToken">Cancels the wait; the connection stays open and no data is lost.</param>
    /// <exception cref="WebSocketProtocolException">The peer broke the protocol.</exception>
    /// <exception cref="WebSocketClosedException">The connection was lost or failed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        EnterReceive();
        try
        {
            while (_batch is null || _batch.IsConsumed)
            {
                if (!await NextBatchAsync(cancellationToken, buffer.Length).ConfigureAwait(false))
                {
                    return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, endOfMessage: true);
                }

                if (_batch is null && await ReceiveOfferedFrameAsync(buffer, cancellationToken).ConfigureAwait(false) is { } direct)
                {
                    return direct;
                }
            }

            ReceivedBatch batch = _batch;
            ReceivedBatch.Piece piece = batch.Pieces[batch.Next];
            ReadOnlySpan<byte> rest = piece.Span.Slice(batch.NextOffset);
            int count = Math.Min(rest.Length, buffer.Length);
            rest.Slice(0, count).CopyTo(buffer.Span);
            bool end = false;
            if (count == rest.Length)
            {
                end = piece.EndOfMessage;
                AdvancePiece(batch);
            }
            else
            {
                batch.NextOffset += count;
            }

            return new ValueWebSocketReceiveResult(count, piece.Type, end);
        }
        finally
        {
            ExitReceive();
        }
    }

    private void EnterReceive()
    {
        if (Interlocked.Exchange(ref _receiving, 1) != 0)
        {
            throw new InvalidOperationException("Another receive is already in progress on this connection.");
        }
    }

    private void ExitReceive() => Volatile.Write(ref _receiving, 0);

    /// <summary>
    /// Makes the next queued batch current; false when the connection ended cleanly. With
    /// <paramref name="room"/> for at least <see cref="DirectReadThreshold"/> bytes, it may also return
    /// true with no current batch: the receive loop offers the rest of a large frame to be read straight
    /// into the caller's buffer (see <see cref="ReceiveOfferedFrameAsync"/>); with less room, an offered
    /// frame is handed back to the loop.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> NextBatchAsync(CancellationToken cancellationToken, int room = 0)
    {
        RecycleCurrentBatch();

        if (room < DirectReadThreshold)
        {
            room = 0;
        }

        while (true)
        {
            if (_incoming.TryRead(out ReceivedBatch? batch))
            {
                _batch = batch;
                return true;
            }

            if (_incoming.FramesOffered)
            {
                if (room > 0)
                {
                    return true;
                }

                TakeFrameBack();
            }

            if (!await _incoming.WaitToReadAsync(cancellationToken, room).ConfigureAwait(false))
            {
                FailPendingViolation();
                ThrowIfEndedAbnormally();
                return false;
            }
        }
    }

    /// <summary>Gives the batch the consumer is done with back to the receive loop, for its next read.</summary>
    private void RecycleCurrentBatch()
    {
        if (_batch is not null)
        {
            ReceivedBatch.Recycle(_batch, ref _spareBatch);
            _batch = null;
        }
    }

    private static void AdvancePiece(ReceivedBatch batch)
    {
        ReceivedBatch.Piece piece = batch.Pieces[batch.Next];
        if (piece.Owned)
        {
            ArrayPool<byte>.Shared.Return(piece.Array);
        }

        batch.Next++;
        batch.NextOffset = 0;
    }

    private void ThrowIfEndedAbnormally()
    {
        Exception? error = CloseError;
        switch (error)
        {
            case null:
                return;
            case WebSocketProtocolException protocol:
                throw new WebSocketProtocolException(protocol.CloseStatus, protocol.Message);
            case WebSocketClosedException closed:
                throw new WebSocketClosedException(closed.Message, closed.CloseStatus, closed.CloseDescription, closed.ClosedByPeer, closed.InnerException);
            default:
                throw LostConnection(error);
        }
    }

    private void AppendToAssembly(ReadOnlySpan<byte> data)
    {
        int needed = _assemblyCount + data.Length;
        if (_assembly is null || _assembly.Length < needed)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _assembly is null ? 0 : _assembly.Length * 2));
            if (_assembly is not null)
            {
                _assembly.AsSpan(0, _assemblyCount).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_assembly);
            }

            _assembly = bigger;
        }

        data.CopyTo(_assembly.AsSpan(_assemblyCount));
        _assemblyCount = needed;
    }

    private static WebSocketMessage Materialize(WebSocketMessageType type, ReadOnlySpan<byte> payload) =>
        type == WebSocketMessageType.Text
            ? WebSocketMessage.FromText(payload.IsEmpty ? string.Empty : Encoding.UTF8.GetString(payload))
            : WebSocketMessage.FromBinary(payload.IsEmpty ? Array.Empty<byte>() : payload.ToArray());

    /// <summary>
    /// The one loop that reads the socket: decodes frames, answers Pings, matches Pongs, hands
    /// message data to the application one read at a time, and runs the receiving half of the
    /// closing handshake.
    /// </summary>
    private async Task ReceiveLoopAsync()
    {
        // Let the caller that started the connection go on before the first read.
        await Task.Yield();
        Stream stream = _stream!;

        // Teardown disposes the stream; where that ends a pending read, the reads take no token, so an
        // idle connection keeps no cancellation registration alive.
        CancellationToken abort = AbortToken;
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
                long remaining = _decoder.DataFrameRemaining;
                if (remaining >= DirectReadThreshold && ShouldHandFrameToReceiver(stream))
                {
                    // A receive call with room waits: it reads the rest of this frame itself, after what
                    // this loop has of the message so far.
                    if (chunk is not null)
                    {
                        ReceivedBatch sofar = ReceivedBatch.Take(ref _spareBatch);
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
                    int handedBack = await new ReaderWakingAwaitable<int>(new ValueTask<int>(OfferFrameToReceiver()), _incoming);
                    _receivePaused = false;
                    if ((HandBackReason)handedBack == HandBackReason.EndOfStream)
                    {
                        OnEndOfStream();
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
                    int want = (int)Math.Min(remaining, ReceiveChunkSize - chunkCount);
                    Reserve(ref chunk, chunkCount, want);
                    ValueTask<int> directRead = stream.ReadAsync(chunk.AsMemory(chunkCount, want), abort);
                    int direct = _incoming.HasDeferredWake
                        ? await new ReaderWakingAwaitable<int>(directRead, _incoming)
                        : await directRead.ConfigureAwait(false);
                    if (direct == 0)
                    {
                        OnEndOfStream();
                        return;
                    }

                    Volatile.Write(ref _lastReceivedTimestamp, _time.GetTimestamp());
                    if (_decoder.Decode(chunk.AsSpan(chunkCount, direct), out _, out DecodedFrame piece) == DecodeStatus.Violation)
                    {
                        await OnViolationAsync(stream, null, null).ConfigureAwait(false);
                        return;
                    }

                    chunkCount += direct;
                    if (piece.EndOfMessage || chunkCount >= ReceiveChunkSize)
                    {
                        ReceivedBatch pieces = ReceivedBatch.Take(ref _spareBatch);
                        pieces.Add(new ReceivedBatch.Piece(chunk, 0, chunkCount, ToMessageType(piece.Opcode), piece.EndOfMessage, Owned: true));
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
                    _ = _incoming.HasDeferredWake
                        ? await new ReaderWakingAwaitable<int>(dataArrives, _incoming)
                        : await dataArrives.ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(_receiveBufferSize);
                }

                ValueTask<int> bufferRead = stream.ReadAsync(buffer, abort);
                int read = _incoming.HasDeferredWake
                    ? await new ReaderWakingAwaitable<int>(bufferRead, _incoming)
                    : await bufferRead.ConfigureAwait(false);
                if (read == 0)
                {
                    OnEndOfStream();
                    return;
                }

                Volatile.Write(ref _lastReceivedTimestamp, _time.GetTimestamp());
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
                        batch ??= ReceivedBatch.Take(ref _spareBatch);
                        WebSocketMessageType type = ToMessageType(frame.Opcode);
                        if (frame.EndOfMessage && chunkCount == 0)
                        {
                            // A whole message inside this read: the application reads it in place.
                            batch.Add(frame.Count == 0
                                ? new ReceivedBatch.Piece([], 0, 0, type, EndOfMessage: true, Owned: false)
                                : new ReceivedBatch.Piece(buffer, start + frame.Offset, frame.Count, type, EndOfMessage: true, Owned: false));
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
                                Reserve(ref chunk, chunkCount, (int)Math.Min(frame.Count + frameRest, Math.Max(frame.Count, ReceiveChunkSize - chunkCount)));
                            }

                            Append(ref chunk, ref chunkCount, buffer.AsSpan(start + frame.Offset, frame.Count));
                            if (frame.EndOfMessage || chunkCount >= ReceiveChunkSize)
                            {
                                batch.Add(new ReceivedBatch.Piece(chunk ?? [], 0, chunkCount, type, frame.EndOfMessage, Owned: chunk is not null));
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

                            await OnCloseFrameAsync(stream).ConfigureAwait(false);
                            return;
                        }

                        OnPingOrPong(frame.Opcode);
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
                int nextSize = Math.Max(_receiveBufferSize, Math.Min(buffer.Length * 2, StreamingReadSize));
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
            OnReadFailed(ex);
        }
        catch (Exception ex)
        {
            // Never leave the loop with an unobserved fault: whatever happened ends the connection.
            Teardown(LostConnection(ex));
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

    /// <summary>
    /// The peer broke the protocol (the decoder's violation says how). RFC 6455 §7.1.7 has the
    /// connection failed and nothing after the violating frame processed; the messages that arrived
    /// whole before it (<paramref name="before"/>, which holds <paramref name="readBuffer"/> when not
    /// null) are still delivered, and the application may answer them: the connection fails when it
    /// comes back for more after the last of them, or after the close timeout if it does not
    /// (<see cref="FailPendingViolation"/>). Until then this loop reads nothing. Once failed, it waits
    /// for the server to end the TCP connection (see <see cref="AwaitServerEndAfterFailAsync"/>).
    /// </summary>
    private async Task OnViolationAsync(Stream stream, ReceivedBatch? before, byte[]? readBuffer)
    {
        ProtocolViolation violation = _decoder.Violation;
        Log.ProtocolViolation(_logger, violation.CloseStatus, violation.Message);
        var pending = new PendingViolation(violation);
        Volatile.Write(ref _violation, pending);
        if (IsTornDown)
        {
            // Torn down before it could see the violation: nothing is left to fail or deliver.
            if (before is not null)
            {
                before.ReadBuffer = readBuffer;
                before.Release();
            }

            return;
        }

        // The deadline runs from now, so a full queue (an application that does not read) cannot
        // hold the delivery below, and with it the connection, open past it.
        pending.SetDeadline(_time.CreateTimer(static s => ((WebSocketConnection)s!).FailPendingViolation(), this, _closeTimeout, Timeout.InfiniteTimeSpan));
        await EnqueueAsync(before, readBuffer).ConfigureAwait(false);

        // Nobody reads the socket now: keepalive must not take a missing Pong for a dead peer.
        _receivePaused = true;
        _incoming.EndWhenDrained();
        if (await pending.Outcome.ConfigureAwait(false))
        {
            await AwaitServerEndAfterFailAsync(stream, pending.CloseTicket, pending.ServerEndDeadline!).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Fails the connection for a pending protocol violation, if one is pending and nothing else ended
    /// the connection first: called by the receiving application when it finds the queue drained
    /// (<see cref="ReceiveQueue.EndWhenDrained"/>), by the violation's deadline, and by the closing
    /// handshake. Records the error and queues our Close at once, on the caller's thread, so the
    /// receive call that comes back throws it and the Close follows every frame the application sent
    /// before; the receive loop does the rest.
    /// </summary>
    private void FailPendingViolation()
    {
        PendingViolation? pending = Volatile.Read(ref _violation);
        if (pending is null)
        {
            return;
        }

        // Started before the Close is queued: the wait for the server's end of TCP is bounded from here.
        var serverEndDeadline = new CancellationTokenSource(_closeTimeout, _time);
        ProtocolViolation violation = pending.Violation;
        if (TryBeginFail(violation.CloseStatus, null, violation.ToException(), out long closeTicket))
        {
            // Messages still queued (the deadline passed before the application took them) stay readable.
            _incoming.Complete();
            pending.Decide(closeTicket, serverEndDeadline);
        }
        else
        {
            serverEndDeadline.Dispose();
        }
    }

    /// <summary>
    /// After failing the connection for a protocol violation: RFC 6455 §7.1.1 has the server close the
    /// TCP connection first, so, once our Close is written, this waits for the server's end of the
    /// stream, discarding whatever arrives, bounded by the close timeout (<paramref name="deadline"/>,
    /// disposed here); then the socket is closed.
    /// </summary>
    private async Task AwaitServerEndAfterFailAsync(Stream stream, long closeTicket, CancellationTokenSource deadline)
    {
        using CancellationTokenSource owned = deadline;
        using CancellationTokenRegistration link = AbortToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
        byte[] discard = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            if (closeTicket != 0)
            {
                await _sender!.WaitWrittenAsync(closeTicket, deadline.Token).ConfigureAwait(false);
            }

            while (await stream.ReadAsync(discard, deadline.Token).ConfigureAwait(false) > 0)
            {
                // RFC 6455 §7.1.7: after failing, no further data is processed.
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or DuplexException or System.Net.Sockets.SocketException)
        {
            if (deadline.IsCancellationRequested && !IsTornDown)
            {
                Log.CloseTimeout(_logger, _closeTimeout);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(discard);
        }

        Teardown(null);
    }

    private static WebSocketMessageType ToMessageType(Opcode opcode) =>
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

        byte[] bigger = ArrayPool<byte>.Shared.Rent(chunk is null ? needed : Math.Max(needed, Math.Min(chunk.Length * 2, ReceiveChunkSize)));
        if (chunk is not null)
        {
            chunk.AsSpan(0, count).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(chunk);
        }

        chunk = bigger;
    }

    /// <summary>Queues a batch for the application, waiting (backpressure) while the queue is full.</summary>
    private ValueTask EnqueueAsync(ReceivedBatch? batch, byte[]? readBuffer, bool deferWake = false)
    {
        if (batch is null || batch.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        batch.ReadBuffer = readBuffer;
        return _incoming.TryWrite(batch, deferWake) ? ValueTask.CompletedTask : EnqueueSlowAsync(batch);
    }

    private async ValueTask EnqueueSlowAsync(ReceivedBatch batch)
    {
        _receivePaused = true;
        try
        {
            do
            {
                await _incoming.WaitForSpaceAsync().ConfigureAwait(false);
            }
            while (!_incoming.TryWrite(batch));
        }
        finally
        {
            _receivePaused = false;
        }
    }

    private void OnPingOrPong(Opcode opcode)
    {
        if (opcode == Opcode.Ping)
        {
            // RFC 6455 §5.5.3: a Pong "MUST have identical Application data" to the Ping it answers.
            Log.PingReceived(_logger, _decoder.ControlPayload.Length);
            _sender!.SendPong(_decoder.ControlPayload);
        }
        else
        {
            // RFC 6455 §5.5.3: an unsolicited Pong is allowed and needs no answer.
            Volatile.Read(ref _pings)?.OnPong(_decoder.ControlPayload, _time.GetTimestamp(), _time);
            Volatile.Read(ref _liveness)?.OnPong();
        }
    }

    /// <summary>RFC 6455 §5.5.1 and §7.1.1: the peer's Close arrived.</summary>
    private async Task OnCloseFrameAsync(Stream stream)
    {
        WebSocketCloseStatus? answer;
        lock (_stateLock)
        {
            answer = (_closing ??= new CloseHandshake()).OnRemoteClose(_decoder.CloseStatus, _decoder.CloseReason);
            if (_state == WebSocketConnectionState.Open)
            {
                _state = WebSocketConnectionState.Closing;
            }
        }

        using var deadline = new CancellationTokenSource(_closeTimeout, _time);
        using CancellationTokenRegistration link = AbortToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
        try
        {
            // RFC 6455 §5.5.1: answer with a Close, echoing the status code received (an empty
            // Close when none was), unless ours is already on its way.
            if (TryQueueClose(answer, null) is var ticket and not 0)
            {
                await _sender!.WaitWrittenAsync(ticket, deadline.Token).ConfigureAwait(false);
            }

            // Both Close frames have been exchanged: the application may learn of the close now,
            // without waiting for the TCP connection to end.
            _incoming.Complete();

            // RFC 6455 §7.1.1: the server closes the TCP connection first; wait for that (bounded).
            byte[] discard = ArrayPool<byte>.Shared.Rent(1024);
            try
            {
                while (await stream.ReadAsync(discard, deadline.Token).ConfigureAwait(false) > 0)
                {
                    // Nothing may follow a Close frame; whatever does is discarded.
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(discard);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or DuplexException or System.Net.Sockets.SocketException)
        {
            if (deadline.IsCancellationRequested && !IsTornDown)
            {
                Log.CloseTimeout(_logger, _closeTimeout);
            }
        }

        Teardown(null);
    }

    private void OnEndOfStream()
    {
        bool clean;
        lock (_stateLock)
        {
            clean = _closing?.EndOfStreamIsClean == true;
        }

        Teardown(clean ? null : LostConnection(null));
    }

    private void OnReadFailed(Exception ex)
    {
        bool expected;
        lock (_stateLock)
        {
            expected = _tornDown || _closing?.LocalStarted == true;
        }

        Teardown(expected ? null : LostConnection(ex));
    }
}
