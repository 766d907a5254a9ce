using System.Threading.Tasks.Sources;

namespace Duplex.Connection.Receive;

/// <summary>
/// The bounded hand-off of received batches from the receive loop (the one writer) to the
/// application's receive call (the one reader). Batches are linked through
/// <see cref="ReceivedBatch.NextInQueue"/>, so the queue holds no array, and each side's wait is a
/// reusable value-task source: an idle connection pays for a few fields, not for a channel.
/// </summary>
/// <remarks>
/// The receive loop never waits for application code, and the application's code never runs the
/// receive loop. The reader's continuation runs on the thread pool, except through
/// <see cref="WakeDeferredReader"/>: a batch written with <c>deferWake</c> wakes the reader only
/// once the loop's next socket read is pending with its own continuation registered, and then the
/// reader continues on the loop's former thread, sparing a thread hop per message while the loop
/// goes on wherever the socket completes it. After <see cref="Complete"/> the reader still gets
/// every batch already queued, then <see langword="false"/>; the writer's batches are dropped (the
/// connection is ending). After <see cref="EndWhenDrained"/> the reader likewise gets what is queued,
/// then <see langword="false"/>, but the queue is not complete: the reader's coming back is what lets
/// the connection end (see <c>WebSocketConnection.FailPendingViolation</c>).
/// </remarks>
internal sealed class ReceiveQueue : IValueTaskSource<bool>, IValueTaskSource
{
    private readonly int _capacity;
    private ReceivedBatch? _head;
    private ReceivedBatch? _tail;
    private int _count;
    private bool _completed;
    private bool _endsWhenDrained;

    private ManualResetValueTaskSourceCore<bool> _reader = new() { RunContinuationsAsynchronously = true };
    private bool _readerWaiting;
    // The reader waits, and a batch is queued for it, but the wake is held for WakeDeferredReader.
    private bool _wakeDeferred;

    // How much room the waiting reader has in its own buffer (0: it wants whole messages), and whether
    // the writer stopped in a large frame for the reader to read straight into that buffer.
    private int _readerRoom;
    private bool _framesOffered;
    private CancellationTokenRegistration _readerCancellation;

    private ManualResetValueTaskSourceCore<bool> _writer = new() { RunContinuationsAsynchronously = true };
    private bool _writerWaiting;

    // A batch the reader is done with, travelling back for the writer's next read (ReceivedBatch.Take / Recycle).
    private ReceivedBatch? _spare;

    /// <summary>The slot through which the reader hands a used batch back to the writer.</summary>
    public ref ReceivedBatch? SpareBatch => ref _spare;

    public ReceiveQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>
    /// Queues <paramref name="batch"/>; false when the queue is full (wait with
    /// <see cref="WaitForSpaceAsync"/> and try again). After <see cref="Complete"/> the batch is
    /// released and dropped. With <paramref name="deferWake"/>, a waiting reader is woken only by
    /// <see cref="WakeDeferredReader"/> (or by anything else that wakes it first).
    /// </summary>
    public bool TryWrite(ReceivedBatch batch, bool deferWake = false)
    {
        lock (this)
        {
            if (!_completed)
            {
                if (_count >= _capacity)
                {
                    return false;
                }

                if (_tail is null)
                {
                    _head = batch;
                }
                else
                {
                    _tail.NextInQueue = batch;
                }

                _tail = batch;
                _count++;
                if (_readerWaiting)
                {
                    if (deferWake)
                    {
                        _wakeDeferred = true;
                    }
                    else
                    {
                        WakeReader(true);
                    }
                }

                return true;
            }
        }

        batch.Release();
        return true;
    }

    /// <summary>Whether no batch is queued.</summary>
    public bool IsEmpty
    {
        get
        {
            lock (this)
            {
                return _head is null;
            }
        }
    }

    /// <summary>Completes when the queue has room or was completed.</summary>
    public ValueTask WaitForSpaceAsync()
    {
        lock (this)
        {
            if (_count < _capacity || _completed)
            {
                return ValueTask.CompletedTask;
            }

            _writer.Reset();
            _writerWaiting = true;
            return new ValueTask(this, _writer.Version);
        }
    }

    /// <summary>Takes the oldest batch, if any.</summary>
    public bool TryRead([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ReceivedBatch? batch)
    {
        lock (this)
        {
            batch = _head;
            if (batch is null)
            {
                return false;
            }

            _head = batch.NextInQueue;
            batch.NextInQueue = null;
            if (_head is null)
            {
                _tail = null;
            }

            _count--;
            if (_writerWaiting)
            {
                _writerWaiting = false;
                _writer.SetResult(true);
            }

            return true;
        }
    }

    /// <summary>
    /// Completes with true when a batch can be read, false when the queue was completed and is empty.
    /// Cancelling <paramref name="cancellationToken"/> ends the wait only; nothing is lost.
    /// </summary>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <param name="room">
    /// How many bytes the reader could take straight into a buffer of its own (see
    /// <see cref="OfferFrames"/>); 0 when it wants whole messages.
    /// </param>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken, int room = 0)
    {
        lock (this)
        {
            // Offered frames end the wait whatever the room: a reader with room reads them, any other
            // hands them back to the writer (see OfferFrames).
            if (_head is not null || _framesOffered)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed || _endsWhenDrained)
            {
                return new ValueTask<bool>(false);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ValueTask.FromCanceled<bool>(cancellationToken);
            }

            if (_readerWaiting)
            {
                throw new InvalidOperationException("Another receive is already waiting on this connection.");
            }

            _reader.Reset();
            _readerWaiting = true;
            _readerRoom = room;
            short version = _reader.Version;
            if (cancellationToken.CanBeCanceled)
            {
                // A cancellation racing this registration runs the callback right here; the lock is
                // re-entrant, so it completes the wait before it is returned.
                _readerCancellation = cancellationToken.UnsafeRegister(static (state, token) => ((ReceiveQueue)state!).CancelReader(token), this);
            }

            return new ValueTask<bool>(this, version);
        }
    }

    /// <summary>
    /// The writer will write no more, and waits for the reader to take what is queued: from now on a
    /// wait on an empty queue ends at once with <see langword="false"/>, and a reader waiting already
    /// is woken (with <see langword="true"/> when batches are still queued, a deferred wake included).
    /// </summary>
    public void EndWhenDrained()
    {
        lock (this)
        {
            _endsWhenDrained = true;
            if (_readerWaiting)
            {
                WakeReader(_head is not null);
            }
        }
    }

    /// <summary>No more batches will be written; wakes both sides.</summary>
    public void Complete()
    {
        lock (this)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            if (_readerWaiting)
            {
                WakeReader(_head is not null);
            }

            if (_writerWaiting)
            {
                _writerWaiting = false;
                _writer.SetResult(true);
            }
        }
    }

    /// <summary>
    /// The room in the waiting reader's own buffer, 0 when none waits or it wants whole messages.
    /// Read without the lock: a hint for the writer, which <see cref="OfferFrames"/> settles.
    /// </summary>
    public int WaitingReaderRoom => Volatile.Read(ref _readerWaiting) ? Volatile.Read(ref _readerRoom) : 0;

    /// <summary>
    /// Whether the writer has stopped in a large frame for the reader (see <see cref="OfferFrames"/>).
    /// Read without the lock, as the reader checks it before every wait: a stale <see langword="false"/>
    /// is caught by <see cref="WaitToReadAsync"/>, which checks under the lock and returns at once, and a
    /// stale <see langword="true"/> finds the frame already taken back.
    /// </summary>
    public bool FramesOffered => Volatile.Read(ref _framesOffered);

    /// <summary>
    /// The writer stopped in the middle of a large frame so that the reader reads the rest of it straight
    /// into its own buffer: every wait ends at once until <see cref="WithdrawFrames"/>, and a waiting
    /// reader's wake is deferred to <see cref="WakeDeferredReader"/>. A reader that cannot take the
    /// frames must give them back to the writer.
    /// </summary>
    public void OfferFrames()
    {
        lock (this)
        {
            _framesOffered = true;
            if (_readerWaiting)
            {
                _wakeDeferred = true;
            }
        }
    }

    /// <summary>The writer reads the socket again (see <see cref="OfferFrames"/>).</summary>
    public void WithdrawFrames()
    {
        lock (this)
        {
            _framesOffered = false;
        }
    }

    /// <summary>
    /// Whether a deferred write holds back a reader's wake. Read without the lock by the writer, the
    /// only one that defers: a stale <see langword="true"/> (the reader was woken or cancelled since)
    /// only costs a <see cref="WakeDeferredReader"/> call that finds nothing to do.
    /// </summary>
    public bool HasDeferredWake => Volatile.Read(ref _wakeDeferred);

    /// <summary>
    /// Wakes a reader whose wake a deferred write held back. With <paramref name="inline"/>, the
    /// reader continues on this thread before this returns (outside the lock), so the caller must hold
    /// no lock and must not need this thread back soon: the receive loop calls it with its next read
    /// already pending.
    /// </summary>
    public void WakeDeferredReader(bool inline)
    {
        lock (this)
        {
            if (!_wakeDeferred)
            {
                return;
            }

            if (!inline)
            {
                WakeReader(true);
                return;
            }

            // Claim the wake under the lock (a racing cancellation or Complete now sees no waiting
            // reader), then run the reader's continuation outside it.
            ClaimReader();
        }

        _reader.RunContinuationsAsynchronously = false;
        _reader.SetResult(true);
    }

    private void CancelReader(CancellationToken token)
    {
        lock (this)
        {
            if (_readerWaiting)
            {
                _readerWaiting = false;
                _wakeDeferred = false;
                _readerRoom = 0;
                _readerCancellation = default;
                _reader.RunContinuationsAsynchronously = true;
                _reader.SetException(new OperationCanceledException(token));
            }
        }
    }

    private void WakeReader(bool result)
    {
        ClaimReader();
        _reader.RunContinuationsAsynchronously = true;
        _reader.SetResult(result);
    }

    private void ClaimReader()
    {
        _readerWaiting = false;
        _wakeDeferred = false;
        _readerRoom = 0;

        // Unregister, not Dispose: Dispose would wait for a callback running on another thread, which
        // waits for this lock.
        _readerCancellation.Unregister();
        _readerCancellation = default;
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _reader.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _reader.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _reader.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource.GetResult(short token) => _writer.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _writer.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _writer.OnCompleted(continuation, state, token, flags);
}
