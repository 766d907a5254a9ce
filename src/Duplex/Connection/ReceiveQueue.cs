using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Duplex.Connection;

/// <summary>
/// The bounded hand-off of received batches from the receive loop (the one writer) to the
/// application's receive call (the one reader). Batches are linked through
/// <see cref="ReceivedBatch.NextInQueue"/>, so the queue holds no array, and each side's wait is a
/// reusable value-task source: an idle connection pays for a few fields, not for a channel.
/// </summary>
/// <remarks>
/// A reader woken by a batch continues on the thread pool, or — when the writer hands itself to the
/// pool instead (<see cref="HandOffToReader"/>) — on the writer's thread: no hop on the way to the
/// application, and still the receive loop never waits for application code. Every other wake-up
/// (completion, cancellation, room for the writer) runs its continuation on the thread pool. After <see cref="Complete"/> the reader still
/// gets every batch already queued, then <see langword="false"/>; the writer's batches are dropped
/// (the connection is ending).
/// </remarks>
internal sealed class ReceiveQueue : IValueTaskSource<bool>, IValueTaskSource
{
    private readonly int _capacity;
    private ReceivedBatch? _head;
    private ReceivedBatch? _tail;
    private int _count;
    private bool _completed;

    private ManualResetValueTaskSourceCore<bool> _reader = new() { RunContinuationsAsynchronously = true };
    private bool _readerWaiting;
    private CancellationTokenRegistration _readerCancellation;

    private ManualResetValueTaskSourceCore<bool> _writer = new() { RunContinuationsAsynchronously = true };
    private bool _writerWaiting;

    public ReceiveQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
    }

    /// <summary>
    /// Queues <paramref name="batch"/>; false when the queue is full (wait with
    /// <see cref="WaitForSpaceAsync"/> and try again). After <see cref="Complete"/> the batch is
    /// released and dropped. When the reader was waiting, <paramref name="readerToWake"/> is set and
    /// the writer must call <see cref="WakeReader"/> or await <see cref="HandOffToReader"/> (outside any
    /// lock of its own).
    /// </summary>
    public bool TryWrite(ReceivedBatch batch, out bool readerToWake)
    {
        readerToWake = false;
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
                    // Claimed here, completed by WakeReader: a racing cancellation or completion now
                    // leaves this wait alone, and the reader will find the batch.
                    _readerWaiting = false;
                    UnregisterReaderCancellation();
                    readerToWake = true;
                }

                return true;
            }
        }

        batch.Release();
        return true;
    }

    /// <summary>
    /// Completes the reader's wait claimed by <see cref="TryWrite"/>: on the thread pool, or
    /// (<paramref name="inline"/>) right here on the calling thread, unless the reader captured a
    /// scheduling context — only for a writer that has handed itself to the pool first
    /// (<see cref="HandOffToReader"/>).
    /// </summary>
    public void WakeReader(bool inline)
    {
        _reader.RunContinuationsAsynchronously = !inline;
        _reader.SetResult(true);
    }

    /// <summary>
    /// Awaited by the writer after <see cref="TryWrite"/> reported a reader to wake: the writer's own
    /// continuation goes to the thread pool, and the reader continues at once on this thread. The
    /// reader gets the message without a thread hop (latency), while the writer — which only has to
    /// start its next read — goes on wherever the pool runs it, so a reader that blocks never stops it.
    /// </summary>
    public ReaderHandOff HandOffToReader() => new(this);

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
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken)
    {
        lock (this)
        {
            if (_head is not null)
            {
                return new ValueTask<bool>(true);
            }

            if (_completed)
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
                CompleteReaderWait(false);
            }

            if (_writerWaiting)
            {
                _writerWaiting = false;
                _writer.SetResult(true);
            }
        }
    }

    private void CancelReader(CancellationToken token)
    {
        lock (this)
        {
            if (_readerWaiting)
            {
                _readerWaiting = false;
                _readerCancellation = default;
                _reader.RunContinuationsAsynchronously = true;
                _reader.SetException(new OperationCanceledException(token));
            }
        }
    }

    private void CompleteReaderWait(bool result)
    {
        _readerWaiting = false;
        UnregisterReaderCancellation();
        _reader.RunContinuationsAsynchronously = true;
        _reader.SetResult(result);
    }

    private void UnregisterReaderCancellation()
    {
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

    /// <summary>The awaitable of <see cref="HandOffToReader"/>.</summary>
    internal readonly struct ReaderHandOff(ReceiveQueue queue) : ICriticalNotifyCompletion
    {
        public bool IsCompleted => false;

        public ReaderHandOff GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

        public void UnsafeOnCompleted(Action continuation)
        {
            // The writer first, so that whatever the reader does next, the writer is already queued
            // (and another pool thread takes it if this one stays busy with the reader).
            ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: true);
            queue.WakeReader(inline: true);
        }
    }
}
