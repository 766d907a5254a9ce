using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Duplex.Diagnostics;
using Duplex.Internal;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    /// <summary>
    /// A send that starts the writer after at least this long without a write writes inline;
    /// sooner, the write is handed to the thread pool so back-to-back sends coalesce.
    /// </summary>
    private static readonly TimeSpan InlineWriteAfterIdle = TimeSpan.FromMicroseconds(10);

    /// <summary>Frames smaller than this are packed together into segments of this size.</summary>
    internal const int SendSegmentSize = 16 * 1024;

    private static readonly SpanAction<byte, ReadOnlyMemory<byte>> s_copyBytes = static (destination, source) => source.Span.CopyTo(destination);
    private static readonly SpanAction<byte, string> s_encodeText = static (destination, text) => Encoding.UTF8.GetBytes(text, destination);

    private readonly object _writeLock = new();
    private MaskKeySource? _maskKeys;
    // Created on first use, like the lists below: an idle connection that never sent keeps none of them.
    private SemaphoreSlim? _messageLock;
    private Queue<SendWaiter>? _sendWaiters;

    // Frames appended and not yet handed to the stream: full segments, then the open tail.
    private List<Segment>? _segments;
    private List<Segment>? _spareSegments;
    private byte[]? _tail;
    private int _tailCount;
    private long _bufferedBytes;
    private long _appendedTicket;
    private long _writtenTicket;
    private bool _flushing;
    private long _lastWriteTimestamp;

    // The batch the writer is writing, and how many of its segments are fully written; what is left
    // of it when the connection fails never reached the network.
    private List<Segment>? _inFlight;
    private int _inFlightWritten;
    private bool _closeStarted;
    private Exception? _sendError;

    // After the connection ended: what TakeUnsentMessages hands back (the pooled buffer is gone by then).
    private List<WebSocketMessage>? _unsentMessages;

    // RFC 6455 §5.5.3: an endpoint may answer only the most recent of several Pings. Pongs go into the
    // send buffer like any frame while it is under SendBufferLimit; past it, the Pong owed waits here
    // and a newer Ping overwrites it, so a peer that floods Pings and never reads costs at most the
    // limit and two Pongs (the last one appended under it, and this one), however long it goes on.
    private byte[]? _pendingPong;
    private int _pendingPongLength = -1;

    /// <summary>
    /// Sends a text message. Completes as soon as the frame is in the connection's write buffer
    /// (it waits only while more than <see cref="WebSocketConnectionOptions.SendBufferLimit"/> bytes
    /// are waiting for the network); frames go out in order, and whatever was buffered when the
    /// connection fails is reported by <see cref="TakeUnsentMessages"/>. <see cref="FlushAsync"/>
    /// waits until everything sent so far has been written.
    /// </summary>
    /// <param name="text">The message text.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="WebSocketClosedException">The connection is closed or failed.</exception>
    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SendMessageAsync(Opcode.Text, text, Encoding.UTF8.GetByteCount(text), s_encodeText, cancellationToken);
    }

    /// <summary>Sends a binary message; completes as soon as the frame is buffered (see <see cref="SendTextAsync"/>).</summary>
    /// <param name="data">The message bytes; not used after the returned task completes.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="WebSocketClosedException">The connection is closed or failed.</exception>
    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        SendMessageAsync(Opcode.Binary, data, data.Length, s_copyBytes, cancellationToken);

    /// <summary>
    /// Sends a whole message of the given type. Text must be valid UTF-8 (RFC 6455 §5.6).
    /// </summary>
    /// <param name="data">The payload.</param>
    /// <param name="messageType">Text or Binary.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException">Text that is not valid UTF-8, or the Close type.</exception>
    /// <exception cref="WebSocketClosedException">The connection is closed or failed.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType messageType, CancellationToken cancellationToken = default)
    {
        Opcode opcode = ToOpcode(messageType, nameof(messageType));
        if (opcode == Opcode.Text && !System.Text.Unicode.Utf8.IsValid(data.Span))
        {
            throw new ArgumentException("A text message must be valid UTF-8.", nameof(data));
        }

        return SendMessageAsync(opcode, data, data.Length, s_copyBytes, cancellationToken);
    }

    /// <summary>
    /// Starts a message sent in several frames (RFC 6455 §5.4), for payloads produced piece by piece.
    /// Until the writer completes, other messages wait (control frames do not); dispose it to finish.
    /// </summary>
    /// <param name="messageType">Text or Binary.</param>
    /// <param name="cancellationToken">Cancels the wait for other messages to finish.</param>
    /// <returns>A writer that owns the message stream until completed or disposed.</returns>
    public async ValueTask<WebSocketMessageWriter> CreateMessageWriterAsync(WebSocketMessageType messageType, CancellationToken cancellationToken = default)
    {
        Opcode opcode = ToOpcode(messageType, nameof(messageType));
        ThrowIfCannotSend();
        await MessageLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new WebSocketMessageWriter(this, opcode);
    }

    /// <summary>Completes when every frame sent so far has been written to the network.</summary>
    /// <param name="cancellationToken">Stops waiting; the frames are still written.</param>
    /// <exception cref="WebSocketClosedException">The connection failed before they were written.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        long ticket;
        lock (_writeLock)
        {
            ticket = _appendedTicket;
        }

        return WaitWrittenAsync(ticket, cancellationToken);
    }

    /// <summary>
    /// After the connection ended: the whole messages that sends accepted into the write buffer but
    /// that never reached the network, oldest first, as they were sent (unmasked). Frames of a
    /// message sent in pieces with a <see cref="WebSocketMessageWriter"/> are not included. A message
    /// whose write was interrupted part-way is included, so in that rare case the peer may have seen
    /// the start of it. Returns an empty list while the connection is open, and the messages only once.
    /// </summary>
    public IReadOnlyList<WebSocketMessage> TakeUnsentMessages()
    {
        lock (_writeLock)
        {
            if (!_tornDown && _sendError is null)
            {
                return [];
            }

            EndSendBufferLocked();
            List<WebSocketMessage> unsent = _unsentMessages!;
            _unsentMessages = [];
            return unsent;
        }
    }

    /// <summary>
    /// Once the connection has ended: takes the whole messages that never reached the network out of
    /// the send buffer (once), and returns the buffer's pooled arrays as soon as the writer has let go
    /// of them, so an ended connection holds no more than those messages, and none once they are taken.
    /// </summary>
    private void EndSendBufferLocked()
    {
        _unsentMessages ??= ReadUnsentMessagesLocked();
        if (_flushing)
        {
            // The writer is still unwinding from its failed write; it calls again when it stops.
            return;
        }

        if (_inFlight is not null)
        {
            // Every segment of the failed batch, the written ones too: they go back only with the batch.
            ReturnSegments(_inFlight);
            _inFlight = null;
        }

        if (_segments is not null)
        {
            ReturnSegments(_segments);
        }

        if (_tail is not null)
        {
            ArrayPool<byte>.Shared.Return(_tail);
            _tail = null;
            _tailCount = 0;
        }

        _spareSegments = null;
        _bufferedBytes = 0;

        static void ReturnSegments(List<Segment> segments)
        {
            foreach (Segment segment in segments)
            {
                ArrayPool<byte>.Shared.Return(segment.Array);
            }

            segments.Clear();
        }
    }

    /// <summary>The whole data messages in the unwritten part of the send buffer, unmasked, oldest first.</summary>
    private List<WebSocketMessage> ReadUnsentMessagesLocked()
    {
        var messages = new List<WebSocketMessage>();
        if (_inFlight is not null)
        {
            for (int i = _inFlightWritten; i < _inFlight.Count; i++)
            {
                ReadMessages(_inFlight[i], messages);
            }
        }

        foreach (Segment segment in _segments ?? [])
        {
            ReadMessages(segment, messages);
        }

        if (_tail is not null)
        {
            ReadMessages(new Segment(_tail, _tailCount), messages);
        }

        return messages;

        static void ReadMessages(Segment segment, List<WebSocketMessage> messages)
        {
            ReadOnlySpan<byte> frames = segment.Array.AsSpan(0, segment.Count);
            while (FrameHeader.TryRead(frames, out FrameHeader header, out int headerLength, out _) == OperationStatus.Done)
            {
                int length = (int)header.PayloadLength;
                if (header.Fin && header.Opcode is Opcode.Text or Opcode.Binary)
                {
                    byte[] payload = frames.Slice(headerLength, length).ToArray();
                    PayloadMask.Apply(payload, header.MaskKey, 0);
                    messages.Add(header.Opcode == Opcode.Text
                        ? WebSocketMessage.FromText(Encoding.UTF8.GetString(payload))
                        : WebSocketMessage.FromBinary(payload));
                }

                frames = frames.Slice(headerLength + length);
            }
        }
    }

    /// <summary>Whether the send buffer holds any pooled array, for tests.</summary>
    internal bool HoldsSendBuffers
    {
        get
        {
            lock (_writeLock)
            {
                return _inFlight is not null || _segments is { Count: > 0 } || _tail is not null;
            }
        }
    }

    /// <summary>Bytes of frames in the send buffer (appended, not yet written), for tests and diagnostics.</summary>
    internal long BufferedSendBytes
    {
        get
        {
            lock (_writeLock)
            {
                return _bufferedBytes;
            }
        }
    }

    internal static Opcode ToOpcode(WebSocketMessageType messageType, string parameterName) => messageType switch
    {
        WebSocketMessageType.Text => Opcode.Text,
        WebSocketMessageType.Binary => Opcode.Binary,
        _ => throw new ArgumentOutOfRangeException(parameterName, messageType, "Only Text and Binary messages can be sent; use CloseAsync to close."),
    };

    private ValueTask SendMessageAsync<TState>(Opcode opcode, TState state, int length, SpanAction<byte, TState> write, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        // The common case — no other message in progress, room in the buffer — appends right here:
        // one message-lock probe and one buffer lock, no async state machine.
        SemaphoreSlim messageLock = MessageLock;
        if (messageLock.Wait(0))
        {
            long ticket;
            try
            {
                ticket = AppendFrame(opcode, fin: true, length, state, write, withinBufferLimit: true);
            }
            catch (Exception ex) when (ex is DuplexException or InvalidOperationException)
            {
                return ValueTask.FromException(ex);
            }
            finally
            {
                messageLock.Release();
            }

            if (ticket != 0)
            {
                return ValueTask.CompletedTask;
            }
        }

        return SendMessageSlowAsync(opcode, state, length, write, cancellationToken);
    }

    /// <summary>A send that waits: for another message (or a message writer) to finish, or for buffer space.</summary>
    private async ValueTask SendMessageSlowAsync<TState>(Opcode opcode, TState state, int length, SpanAction<byte, TState> write, CancellationToken cancellationToken)
    {
        ThrowIfCannotSend();
        SemaphoreSlim messageLock = MessageLock;
        await messageLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WaitForBufferSpaceAsync(cancellationToken).ConfigureAwait(false);

            // Once appended, the frame goes out in order; if the connection fails before it reaches
            // the network, TakeUnsentMessages hands it back.
            AppendFrame(opcode, fin: true, length, state, write);
        }
        finally
        {
            messageLock.Release();
        }
    }

    /// <summary>Sends one frame of a fragmented message; used by <see cref="WebSocketMessageWriter"/>.</summary>
    internal async ValueTask SendFragmentAsync(Opcode opcode, bool fin, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await WaitForBufferSpaceAsync(cancellationToken).ConfigureAwait(false);
        AppendFrame(opcode, fin, data.Length, data, s_copyBytes);
    }

    internal void ReleaseMessageLock() => MessageLock.Release();

    /// <summary>Held by a whole-message send or a message writer, so fragments of different messages never interleave.</summary>
    private SemaphoreSlim MessageLock
    {
        get
        {
            SemaphoreSlim? existing = Volatile.Read(ref _messageLock);
            if (existing is not null)
            {
                return existing;
            }

            var created = new SemaphoreSlim(1, 1);
            existing = Interlocked.CompareExchange(ref _messageLock, created, null);
            if (existing is null)
            {
                return created;
            }

            created.Dispose();
            return existing;
        }
    }

    /// <summary>Waits while more than the send buffer limit is waiting to be written.</summary>
    private async ValueTask WaitForBufferSpaceAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            long waitFor;
            lock (_writeLock)
            {
                if (_bufferedBytes < _sendBufferLimit || _sendError is not null)
                {
                    return;
                }

                waitFor = _appendedTicket;
            }

            await WaitWrittenAsync(waitFor, cancellationToken).ConfigureAwait(false);
        }
    }

    private void ThrowIfCannotSend()
    {
        lock (_writeLock)
        {
            ThrowIfCannotSendLocked();
        }
    }

    /// <summary>
    /// Throws when nothing more can be sent. Control frames (<paramref name="control"/>) only need a
    /// live connection that has not started closing.
    /// </summary>
    private void ThrowIfCannotSendLocked(bool control = false)
    {
        if (_sendError is not null || _tornDown || (control && _closeStarted))
        {
            throw ClosedForSending();
        }

        if (control)
        {
            return;
        }

        if (_closeStarted)
        {
            // RFC 6455 §5.5.1: after sending a Close frame, no more data frames.
            throw ClosedByHandshake("The connection is closing; no more messages can be sent.");
        }

        if (_stream is null)
        {
            throw new InvalidOperationException("The connection is not open yet.");
        }
    }

    private WebSocketClosedException ClosedForSending()
    {
        Exception? cause = _sendError ?? CloseError;
        return cause switch
        {
            // A fresh exception per caller, the connection's own inside: one instance thrown to many
            // waiters would have its stack trace overwritten by each.
            WebSocketClosedException closed => new WebSocketClosedException(closed.Message, closed.CloseStatus, closed.CloseDescription, closed.ClosedByPeer, closed),
            WebSocketProtocolException protocol => new WebSocketClosedException("The connection was failed after a protocol violation.", protocol.CloseStatus, protocol.Message, closedByPeer: false, protocol),
            null => ClosedByHandshake("The WebSocket connection is closed."),
            _ => LostConnection(cause),
        };
    }

    /// <summary>
    /// Appends one masked frame to the send buffer and makes sure a writer is running. Returns the
    /// frame's ticket for <see cref="WaitWrittenAsync"/>, or 0 when <paramref name="withinBufferLimit"/>
    /// is set and the buffer is over its limit (nothing appended). Synchronous: frames are never
    /// interleaved. For our Close frame (<paramref name="close"/>), <paramref name="closeStatus"/> and
    /// <paramref name="closeReason"/> become the local close status.
    /// </summary>
    private long AppendFrame<TState>(
        Opcode opcode, bool fin, int payloadLength, TState state, SpanAction<byte, TState> write,
        bool control = false, bool close = false, WebSocketCloseStatus? closeStatus = null, string? closeReason = null, bool withinBufferLimit = false)
    {
        bool startWriter;
        long ticket;
        lock (_writeLock)
        {
            ThrowIfCannotSendLocked(control);
            if (withinBufferLimit && _bufferedBytes >= _sendBufferLimit)
            {
                return 0;
            }

            if (close)
            {
                AppendPendingPongLocked();
            }

            Span<byte> payload = ReserveFrameLocked(opcode, fin, payloadLength, out int maskKey);
            if (typeof(TState) == typeof(ReadOnlyMemory<byte>) && ReferenceEquals(write, s_copyBytes))
            {
                // Caller's bytes: masked on their way into the buffer, one pass instead of a copy and a masking pass.
                PayloadMask.Apply(System.Runtime.CompilerServices.Unsafe.As<TState, ReadOnlyMemory<byte>>(ref state).Span, payload, maskKey, 0);
            }
            else
            {
                write(payload, state);
                PayloadMask.Apply(payload, maskKey, 0);
            }
            ticket = ++_appendedTicket;
            if (close)
            {
                // Recorded while the frame cannot reach the wire yet (a running writer needs this lock
                // to take it): a peer that reacts to our Close at once must find the connection closing
                // with our status, or the receive loop would take the end of TCP that follows for a lost
                // connection. Lock order: _writeLock, then _stateLock.
                _closeStarted = true;
                RecordLocalClose(closeStatus, closeReason);
            }

            startWriter = !_flushing;
            _flushing = true;
        }

        if (startWriter)
        {
            StartWriter();
        }

        return ticket;
    }

    /// <summary>Runs the writer, which the caller has marked as running (<c>_flushing</c>).</summary>
    private void StartWriter()
    {
        if (System.Diagnostics.Stopwatch.GetElapsedTime(Volatile.Read(ref _lastWriteTimestamp)) > InlineWriteAfterIdle)
        {
            // A connection that has been quiet writes on the sender's thread: no hop, lowest
            // latency (the loop runs synchronously up to a write that does not complete at once).
            _ = WriteLoopAsync();
        }
        else
        {
            // Sends are coming back to back: let a pool thread write while the sender goes on
            // appending, so everything that piles up meanwhile leaves in one write.
            ThreadPool.UnsafeQueueUserWorkItem(_writerWorkItem ??= new WriterWorkItem(this), preferLocal: false);
        }
    }

    /// <summary>
    /// Appends our Close frame unless one was already sent (RFC 6455 §5.5.1: one Close per side);
    /// a null status sends an empty Close, the answer to a Close that carried no status code.
    /// </summary>
    private bool TryAppendClose(WebSocketCloseStatus? status, string? reason, out long ticket)
    {
        byte[] payload = [];
        if (status is { } code)
        {
            Span<byte> buffer = stackalloc byte[FrameHeader.MaxControlPayload];
            payload = buffer.Slice(0, CloseStatusRules.Write(buffer, code, reason)).ToArray();
        }

        lock (_writeLock)
        {
            if (_closeStarted)
            {
                ticket = 0;
                return false;
            }
        }

        try
        {
            ticket = AppendFrame(Opcode.Close, fin: true, payload.Length, new ReadOnlyMemory<byte>(payload), s_copyBytes, control: true, close: true, status, reason);
        }
        catch (WebSocketClosedException)
        {
            ticket = 0;
            return false;
        }

        return true;
    }

    /// <summary>Our Close frame is in the send buffer: the closing handshake has begun on our side.</summary>
    private void RecordLocalClose(WebSocketCloseStatus? status, string? reason)
    {
        lock (_stateLock)
        {
            LocalCloseStatus = status;
            LocalCloseStatusDescription = reason;
            if (_state == WebSocketConnectionState.Open)
            {
                _state = WebSocketConnectionState.Closing;
            }
        }
    }

    /// <summary>
    /// Answers a Ping with <paramref name="payload"/> (RFC 6455 §5.5.2). Every Ping is answered while
    /// the send buffer has room; when it is full, the Pong is owed instead, replacing one still owed
    /// for an earlier Ping (§5.5.3).
    /// </summary>
    private void TrySendPong(ReadOnlySpan<byte> payload)
    {
        bool startWriter = false;
        bool append;
        lock (_writeLock)
        {
            if (_sendError is not null || _tornDown || _closeStarted)
            {
                // Closing or closed: no Pong is owed any more.
                return;
            }

            // Only the receive loop answers Pings, so nothing else changes the choice made here.
            append = _pendingPongLength < 0 && _bufferedBytes < _sendBufferLimit;
            if (!append)
            {
                payload.CopyTo(_pendingPong ??= new byte[FrameHeader.MaxControlPayload]);
                _pendingPongLength = payload.Length;
                startWriter = !_flushing;
                _flushing = true;
            }
        }

        if (append)
        {
            try
            {
                AppendFrame(Opcode.Pong, fin: true, payload.Length, new ReadOnlyMemory<byte>(payload.ToArray()), s_copyBytes, control: true);
            }
            catch (DuplexException)
            {
                // Closed meanwhile: no Pong is owed any more.
            }
        }
        else if (startWriter)
        {
            StartWriter();
        }
    }

    /// <summary>
    /// Appends the Pong owed, if any, behind everything buffered: done when the writer takes the next
    /// batch (the Pong answers the latest Ping by then) and before our Close, which must be the last frame.
    /// </summary>
    private void AppendPendingPongLocked()
    {
        if (_pendingPongLength < 0)
        {
            return;
        }

        int length = _pendingPongLength;
        _pendingPongLength = -1;
        Span<byte> payload = ReserveFrameLocked(Opcode.Pong, fin: true, length, out int maskKey);
        PayloadMask.Apply(_pendingPong.AsSpan(0, length), payload, maskKey, 0);
    }

    /// <summary>
    /// Reserves one masked frame in the send buffer and writes its header; returns where its payload
    /// goes, to be written masked with <paramref name="maskKey"/>.
    /// </summary>
    private Span<byte> ReserveFrameLocked(Opcode opcode, bool fin, int payloadLength, out int maskKey)
    {
        Span<byte> frame = Reserve(FrameHeader.GetLength(payloadLength, masked: true) + payloadLength);

        // RFC 6455 §5.3: a fresh, unpredictable masking key for every frame.
        maskKey = (_maskKeys ??= new MaskKeySource()).Next();
        int headerLength = FrameHeader.Write(frame, fin, 0, opcode, payloadLength, masked: true, maskKey);
        return frame.Slice(headerLength, payloadLength);
    }

    private Span<byte> Reserve(int length)
    {
        _bufferedBytes += length;
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

        _tail = ArrayPool<byte>.Shared.Rent(Math.Max(length, SendSegmentSize));
        _tailCount = length;
        return _tail.AsSpan(0, length);
    }

    /// <summary>
    /// Writes everything appended, batch after batch, until the buffer is empty. At most one runs at
    /// a time; frames appended while a batch is being written go out together in the next one.
    /// </summary>
    private async Task WriteLoopAsync()
    {
        Stream stream = _stream!;
        try
        {
            while (true)
            {
                List<Segment> batch;
                long ticket;
                long bytes = 0;
                lock (_writeLock)
                {
                    if (_sendError is null)
                    {
                        AppendPendingPongLocked();
                    }

                    if (_tail is not null)
                    {
                        (_segments ??= []).Add(new Segment(_tail, _tailCount));
                        _tail = null;
                        _tailCount = 0;
                    }

                    if (_segments is null || _segments.Count == 0 || _sendError is not null)
                    {
                        _flushing = false;
                        if (_sendError is not null)
                        {
                            EndSendBufferLocked();
                        }

                        return;
                    }

                    batch = _segments;
                    _segments = _spareSegments;
                    _spareSegments = null;
                    ticket = _appendedTicket;
                    _inFlight = batch;
                    _inFlightWritten = 0;
                }

                for (int i = 0; i < batch.Count; i++)
                {
                    Segment segment = batch[i];
                    await stream.WriteAsync(segment.Array.AsMemory(0, segment.Count), AbortToken).ConfigureAwait(false);
                    bytes += segment.Count;
                    if (i + 1 < batch.Count)
                    {
                        lock (_writeLock)
                        {
                            _inFlightWritten = i + 1;
                        }
                    }
                }

                // Some streams (HTTP/2) hold writes until flushed: a batch counts as written only then.
                await stream.FlushAsync(AbortToken).ConfigureAwait(false);
                Volatile.Write(ref _lastWriteTimestamp, System.Diagnostics.Stopwatch.GetTimestamp());
                lock (_writeLock)
                {
                    if (_inFlight == batch)
                    {
                        _inFlight = null;
                        foreach (Segment segment in batch)
                        {
                            ArrayPool<byte>.Shared.Return(segment.Array);
                        }
                    }

                    batch.Clear();
                    _spareSegments = batch;
                    _bufferedBytes -= bytes;
                    _writtenTicket = ticket;
                    while (_sendWaiters is not null && _sendWaiters.TryPeek(out SendWaiter waiter) && waiter.Ticket <= ticket)
                    {
                        _sendWaiters.Dequeue();
                        waiter.Completion.TrySetResult();
                    }
                }
            }
        }
        catch (Exception ex)
        {
            Log.SendFailed(_logger, ex);
            lock (_writeLock)
            {
                _sendError ??= ex;
                _flushing = false;
                if (_tornDown)
                {
                    // The connection ended while this write was failing: the buffer can go now.
                    EndSendBufferLocked();
                }
            }

            bool expected;
            lock (_stateLock)
            {
                expected = _tornDown;
            }

            Teardown(expected ? null : LostConnection(ex));
        }
    }

    /// <summary>Completes when the frame with <paramref name="ticket"/> has been written to the stream.</summary>
    private ValueTask WaitWrittenAsync(long ticket, CancellationToken cancellationToken)
    {
        TaskCompletionSource completion;
        lock (_writeLock)
        {
            if (_writtenTicket >= ticket)
            {
                return default;
            }

            if (_sendError is not null || _tornDown)
            {
                return ValueTask.FromException(ClosedForSending());
            }

            completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (_sendWaiters ??= new Queue<SendWaiter>()).Enqueue(new SendWaiter(ticket, completion));
        }

        return new ValueTask(cancellationToken.CanBeCanceled ? completion.Task.WaitAsync(cancellationToken) : completion.Task);
    }

    private void FailSendWaiters(Exception error)
    {
        lock (_writeLock)
        {
            _sendError ??= error;
            while (_sendWaiters is not null && _sendWaiters.TryDequeue(out SendWaiter waiter))
            {
                ObservedFault.TrySet(waiter.Completion, ClosedForSending());
            }

            EndSendBufferLocked();
        }
    }

    private WriterWorkItem? _writerWorkItem;

    private readonly record struct Segment(byte[] Array, int Count);

    /// <summary>Starts the writer on a pool thread without allocating per queueing.</summary>
    private sealed class WriterWorkItem(WebSocketConnection connection) : IThreadPoolWorkItem
    {
        public void Execute() => _ = connection.WriteLoopAsync();
    }

    private readonly record struct SendWaiter(long Ticket, TaskCompletionSource Completion);
}
