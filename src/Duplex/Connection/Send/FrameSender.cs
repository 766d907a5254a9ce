using Duplex.Connection.Receive;
using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using Duplex.Connection.Compression;
using Duplex.Diagnostics;
using Duplex.Internal;
using Duplex.Protocol;

namespace Duplex.Connection.Send;

/// <summary>
/// A connection's one write path: every frame (messages, Pongs, Pings, Close) is appended to the
/// <see cref="SendBuffer"/> under one lock, and one writer at a time hands what piled up to the
/// stream, batch after batch, so frames never interleave and frames that queue up behind each other
/// leave in one network write.
/// </summary>
/// <remarks>
/// Locks: the sender's own monitor (<c>lock (this)</c>; the type is private to the connection, which
/// never locks it) guards the buffer and everything below it; the message lock (a semaphore)
/// is held by a whole-message send or a message writer so fragments of different messages never
/// interleave, and is always taken before the monitor, never while holding it. No other lock is
/// taken while holding the monitor: the sender asks its connection for the end's cause and reports
/// a failed write only outside it.
/// </remarks>
internal sealed partial class FrameSender
{
    /// <summary>
    /// A send that starts the writer after at least this long without a write, or after bytes arrived
    /// since the last write, writes inline; otherwise the write is handed to the thread pool so
    /// back-to-back sends coalesce.
    /// </summary>
    private static readonly TimeSpan InlineWriteAfterIdle = TimeSpan.FromMicroseconds(10);

    private static readonly SpanAction<byte, string> s_encodeText = static (destination, text) => Encoding.UTF8.GetBytes(text, destination);

    private readonly WebSocketConnection _connection;
    private readonly Stream _stream;
    private readonly CancellationToken _abort;
    private readonly long _bufferLimit;

    // The stream's writes block (DedicatedReceiveThread): only the code of a reader turn on the receive thread
    // writes inline (see StartWriterIf).
    private readonly bool _blocking;
    // The buffer is created with the first frame: an idle connection that never sent keeps none.
    private SendBuffer? _buffer;

    // Created on first use: an idle connection that never sent keeps none of them.
    private SemaphoreSlim? _messageLock;
    private Queue<SendWaiter>? _waiters;
    private WriterWorkItem? _writerWorkItem;

    private long _writtenTicket;
    private bool _writing;
    private long _lastWriteTimestamp;
    private long _readsAtLastWrite;

    // Set once our Close is in the buffer (RFC 6455 §5.5.1: no data frame after it), and once the
    // connection ended or a write failed (nothing more is accepted, waiters fail).
    private bool _closeQueued;
    private Exception? _error;

    // After the end: the messages never written, until TakeUnsentMessages hands them back (once).
    private List<UnsentMessage>? _unsent;

    public FrameSender(WebSocketConnection connection, Stream stream, CancellationToken abort, long bufferLimit, MessageDeflater? deflater = null, bool blocking = false)
    {
        _blocking = blocking;
        _deflater = deflater;
        _connection = connection;
        _stream = stream;
        _abort = abort;
        _bufferLimit = bufferLimit;
    }

    /// <summary>What the buffer holds for frames not yet written (see <see cref="SendBuffer.HeldBytes"/>): what its limit bounds.</summary>
    public long HeldBytes
    {
        get
        {
            lock (this)
            {
                return HeldBytesLocked;
            }
        }
    }

    // Under the sender's lock; no buffer yet holds nothing.
    private long HeldBytesLocked => _buffer?.HeldBytes ?? 0;

    // Whether the buffer is under its limit, which data sends (and Pongs appended rather than owed) wait for; under the lock.
    private bool UnderLimitLocked => HeldBytesLocked < _bufferLimit;

    /// <summary>Whether the buffer holds any pooled array.</summary>
    public bool HoldsBuffers
    {
        get
        {
            lock (this)
            {
                return _buffer?.HoldsArrays == true;
            }
        }
    }

    /// <summary>Sends a whole text message: the common case appends right here, without an async state machine.</summary>
    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken) =>
        SendMessageAsync(new Payload(Opcode.Text, text, default, Encoding.UTF8.GetByteCount(text)), cancellationToken);

    /// <summary>Sends a whole binary (or validated text) message.</summary>
    public ValueTask SendBytesAsync(Opcode opcode, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        SendMessageAsync(new Payload(opcode, null, data, data.Length), cancellationToken);

    /// <summary>Waits for other messages to finish, then lets the caller send one in several frames (<see cref="SendFragmentAsync"/>, <see cref="ReleaseMessageLock"/>).</summary>
    public async ValueTask AcquireMessageLockAsync(CancellationToken cancellationToken)
    {
        ThrowIfCannotSend(control: false);
        await MessageLock.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public void ReleaseMessageLock() => MessageLock.Release();

    /// <summary>Sends one frame of a fragmented message; the caller holds the message lock.</summary>
    public async ValueTask SendFragmentAsync(Opcode opcode, bool fin, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await WaitForBufferSpaceAsync(cancellationToken).ConfigureAwait(false);
        if (_deflater is not null)
        {
            AppendCompressedFragment(opcode, fin, data.Span);
            return;
        }

        Append(new Payload(opcode, null, data, data.Length), fin, wholeMessage: false, control: false);
    }

    /// <summary>Appends a Ping; returns its ticket.</summary>
    public long SendPing(ReadOnlySpan<byte> payload)
    {
        bool start;
        long ticket;
        lock (this)
        {
            ThrowIfCannotSendLocked(control: true);
            ticket = Buffer.Append(Opcode.Ping, fin: true, payload, wholeMessage: false);
            start = MarkWritingLocked();
        }

        StartWriterIf(start);
        return ticket;
    }

    /// <summary>
    /// Answers a Ping with <paramref name="payload"/> (RFC 6455 §5.5.2). Every Ping is answered while
    /// the buffer is under its limit; past it, the Pong is owed instead, replacing one still owed for an
    /// earlier Ping (§5.5.3), so a peer that floods Pings and never reads costs at most the limit and
    /// two Pongs (the last one appended under it, and the one owed). Nothing is owed once closing.
    /// </summary>
    public void SendPong(ReadOnlySpan<byte> payload)
    {
        bool start;
        lock (this)
        {
            if (_error is not null || _closeQueued)
            {
                return;
            }

            // Only the receive loop answers Pings, so nothing else changes the choice made here.
            if (_buffer is not { OwesPong: true } && UnderLimitLocked)
            {
                Buffer.Append(Opcode.Pong, fin: true, payload, wholeMessage: false);
            }
            else
            {
                Buffer.OwePong(payload);
            }

            start = MarkWritingLocked();
        }

        StartWriterIf(start);
    }

    /// <summary>
    /// Appends our Close frame (its payload already written) behind everything buffered, the Pong
    /// owed first; nothing but this frame is accepted after it. Returns its ticket, or 0 when the
    /// connection can no longer send.
    /// </summary>
    public long SendClose(ReadOnlySpan<byte> payload)
    {
        bool start;
        long ticket;
        lock (this)
        {
            if (_error is not null || _closeQueued)
            {
                return 0;
            }

            _closeQueued = true;
            _buffer?.AppendOwedPong();
            ticket = Buffer.Append(Opcode.Close, fin: true, payload, wholeMessage: false);
            start = MarkWritingLocked();
        }

        StartWriterIf(start);
        return ticket;
    }

    /// <summary>Completes when every frame appended so far has been written.</summary>
    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        long ticket;
        lock (this)
        {
            ticket = _buffer?.AppendedTicket ?? 0;
        }

        return WaitWrittenAsync(ticket, cancellationToken);
    }

    /// <summary>Completes when the frame with <paramref name="ticket"/> has been written to the stream.</summary>
    public ValueTask WaitWrittenAsync(long ticket, CancellationToken cancellationToken)
    {
        TaskCompletionSource completion;
        lock (this)
        {
            if (_writtenTicket >= ticket)
            {
                return default;
            }

            if (_error is not null)
            {
                return ValueTask.FromException(_connection.ClosedForSending(_error));
            }

            completion = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            (_waiters ??= new Queue<SendWaiter>()).Enqueue(new SendWaiter(ticket, completion));
        }

        return new ValueTask(cancellationToken.CanBeCanceled ? completion.Task.WaitAsync(cancellationToken) : completion.Task);
    }

    /// <summary>
    /// The connection ended: nothing more is accepted, every waiter fails, the messages never written
    /// are set aside for <see cref="TakeUnsentMessages"/>, and the buffer's arrays go back to the pool
    /// as soon as the writer has let go of them.
    /// </summary>
    public void End(Exception cause)
    {
        lock (this)
        {
            _error ??= cause;
            while (_waiters is not null && _waiters.TryDequeue(out SendWaiter waiter))
            {
                ObservedFault.TrySet(waiter.Completion, _connection.ClosedForSending(_error));
            }

            EndBufferLocked();
        }
    }

    /// <summary>After the end: the whole messages never written, oldest first, once; empty while open.</summary>
    public List<UnsentMessage> TakeUnsentMessages()
    {
        lock (this)
        {
            if (_error is null)
            {
                return [];
            }

            EndBufferLocked();
            List<UnsentMessage> unsent = _unsent!;
            _unsent = [];
            return unsent;
        }
    }

    private void EndBufferLocked()
    {
        _unsent ??= _buffer?.TakeUnsentMessages() ?? [];
        if (!_writing)
        {
            // While the writer unwinds from its failed write, it owns the batch; it calls again when it stops.
            _buffer?.Release();
        }
    }

    private SendBuffer Buffer => _buffer ??= new SendBuffer();

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

    private ValueTask SendMessageAsync(Payload payload, CancellationToken cancellationToken)
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
                ticket = _deflater is null
                    ? Append(payload, fin: true, wholeMessage: true, control: false, withinLimit: true)
                    : AppendMessage(payload, withinLimit: true);
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

        return SendMessageSlowAsync(payload, cancellationToken);
    }

    /// <summary>A send that waits: for another message (or a message writer) to finish, or for buffer space.</summary>
    private async ValueTask SendMessageSlowAsync(Payload payload, CancellationToken cancellationToken)
    {
        ThrowIfCannotSend(control: false);
        SemaphoreSlim messageLock = MessageLock;
        await messageLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await WaitForBufferSpaceAsync(cancellationToken).ConfigureAwait(false);

            // Once appended, the frame goes out in order; if the connection fails before it reaches
            // the network, TakeUnsentMessages hands it back.
            if (_deflater is null)
            {
                Append(payload, fin: true, wholeMessage: true, control: false);
            }
            else
            {
                AppendMessage(payload, withinLimit: false);
            }
        }
        finally
        {
            messageLock.Release();
        }
    }

    /// <summary>
    /// Appends one data frame and makes sure a writer runs. Returns its ticket, or 0 when
    /// <paramref name="withinLimit"/> is set and the buffer is over its limit (nothing appended).
    /// </summary>
    private long Append(Payload payload, bool fin, bool wholeMessage, bool control, bool withinLimit = false)
    {
        bool start;
        long ticket;
        lock (this)
        {
            ThrowIfCannotSendLocked(control);
            if (withinLimit && !UnderLimitLocked)
            {
                return 0;
            }

            ticket = payload.Text is { } text
                ? Buffer.Append(payload.Opcode, fin, payload.Length, text, s_encodeText, wholeMessage)
                : Buffer.Append(payload.Opcode, fin, payload.Data.Span, wholeMessage);
            start = MarkWritingLocked();
        }

        StartWriterIf(start);
        return ticket;
    }

    /// <summary>Waits while more than the buffer limit is waiting to be written.</summary>
    private async ValueTask WaitForBufferSpaceAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            long waitFor;
            lock (this)
            {
                if (UnderLimitLocked || _error is not null)
                {
                    return;
                }

                waitFor = _buffer?.AppendedTicket ?? 0;
            }

            await WaitWrittenAsync(waitFor, cancellationToken).ConfigureAwait(false);
        }
    }

    private void ThrowIfCannotSend(bool control)
    {
        lock (this)
        {
            ThrowIfCannotSendLocked(control);
        }
    }

    /// <summary>Throws when nothing more can be sent; control frames only need a connection that has not started closing.</summary>
    private void ThrowIfCannotSendLocked(bool control)
    {
        if (_error is not null || (control && _closeQueued))
        {
            throw _connection.ClosedForSending(_error);
        }

        if (_closeQueued)
        {
            // RFC 6455 §5.5.1: after sending a Close frame, no more data frames.
            throw _connection.ClosedByHandshake("The connection is closing; no more messages can be sent.");
        }
    }

    /// <summary>Marks the writer as running; true when the caller has to start it.</summary>
    private bool MarkWritingLocked()
    {
        if (_writing)
        {
            return false;
        }

        _writing = true;
        return true;
    }

    private void StartWriterIf(bool start)
    {
        if (!start)
        {
            return;
        }

        // A blocking write holds its thread until the data fits the socket's send buffer. It may hold the
        // receive thread's reader turn (the request/response path: the take-over watch covers that), but never
        // the receive loop itself (a Pong, the Close reply), the keepalive timer or another caller: those
        // leave the write to a pool thread.
        bool inline = _blocking
            ? ReceiveThread.InReaderTurn
            : WritesInline(_connection.ReadsSoFar, Volatile.Read(ref _readsAtLastWrite), Stopwatch.GetElapsedTime(Volatile.Read(ref _lastWriteTimestamp)));
        if (inline)
        {
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
    /// Whether a send that starts the writer writes on its own thread: when it answers what arrived
    /// since the last write (a request and its response, however fast the peer: a hop to the pool
    /// would only add to the round trip), or when the connection has been quiet. A send that follows
    /// the last write closely with nothing received between is one of a stream of sends, and leaves
    /// the write to a pool thread so that what the sender appends meanwhile goes out in one write.
    /// </summary>
    internal static bool WritesInline(long readsNow, long readsAtLastWrite, TimeSpan sinceLastWrite) =>
        readsNow != readsAtLastWrite || sinceLastWrite > InlineWriteAfterIdle;

    /// <summary>
    /// Writes everything appended, batch after batch, until the buffer is empty. At most one runs at
    /// a time; frames appended while a batch is being written go out together in the next one.
    /// </summary>
    private async Task WriteLoopAsync()
    {
        try
        {
            while (true)
            {
                List<SendBuffer.Segment>? batch = null;
                long ticket = 0;
                lock (this)
                {
                    if (_error is null)
                    {
                        _buffer?.AppendOwedPong();
                        batch = _buffer?.TakeBatch(out ticket);
                    }

                    if (batch is null)
                    {
                        _buffer?.Idle();
                        _writing = false;
                        if (_error is not null)
                        {
                            EndBufferLocked();
                        }

                        return;
                    }
                }

                for (int i = 0; i < batch.Count; i++)
                {
                    SendBuffer.Segment segment = batch[i];
                    await _stream.WriteAsync(segment.Array.AsMemory(0, segment.Count), _abort).ConfigureAwait(false);
                    if (i + 1 < batch.Count)
                    {
                        lock (this)
                        {
                            _buffer!.SegmentWritten();
                        }
                    }
                }

                // Some streams (HTTP/2) hold writes until flushed: a batch counts as written only then.
                await _stream.FlushAsync(_abort).ConfigureAwait(false);
                Volatile.Write(ref _readsAtLastWrite, _connection.ReadsSoFar);
                Volatile.Write(ref _lastWriteTimestamp, Stopwatch.GetTimestamp());
                lock (this)
                {
                    if (_error is not null)
                    {
                        // The connection ended meanwhile and set the unwritten messages aside; the batch
                        // goes back with the rest of the buffer below.
                        continue;
                    }

                    _buffer!.BatchWritten(batch);
                    _writtenTicket = ticket;
                    while (_waiters is not null && _waiters.TryPeek(out SendWaiter waiter) && waiter.Ticket <= ticket)
                    {
                        _waiters.Dequeue();
                        waiter.Completion.TrySetResult();
                    }
                }
            }
        }
        catch (Exception ex)
        {
            Log.SendFailed(_connection.Logger, ex);
            lock (this)
            {
                _error ??= ex;
                _writing = false;
                EndBufferLocked();
            }

            _connection.OnWriteFailed(ex);
        }
    }

    /// <summary>A message's payload: text to encode straight into the buffer (its UTF-8 length counted before the lock), or bytes to copy.</summary>
    private readonly record struct Payload(Opcode Opcode, string? Text, ReadOnlyMemory<byte> Data, int Length);

    private readonly record struct SendWaiter(long Ticket, TaskCompletionSource Completion);

    /// <summary>Starts the writer on a pool thread without allocating per queueing.</summary>
    private sealed class WriterWorkItem(FrameSender sender) : IThreadPoolWorkItem
    {
        public void Execute() => _ = sender.WriteLoopAsync();
    }
}
