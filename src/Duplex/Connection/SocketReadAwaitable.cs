using System.Runtime.CompilerServices;

namespace Duplex.Connection;

/// <summary>
/// How the receive loop awaits a read of the socket: like <c>ConfigureAwait(false)</c>, and it
/// wakes a reader whose wake the loop deferred (<see cref="ReceiveQueue.WakeDeferredReader"/>). If
/// the read has completed, the reader is woken on the thread pool while the loop goes on here. If
/// the read is pending, the loop's continuation is registered with the read first and the reader
/// then continues on this thread: the loop no longer needs it, and it resumes wherever the read
/// completes even if the application blocks here.
/// </summary>
internal readonly struct SocketReadAwaitable : ICriticalNotifyCompletion
{
    private readonly ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter _read;
    private readonly ReceiveQueue _queue;

    public SocketReadAwaitable(ValueTask<int> read, ReceiveQueue queue)
    {
        _read = read.ConfigureAwait(false).GetAwaiter();
        _queue = queue;
    }

    public bool IsCompleted
    {
        get
        {
            if (_read.IsCompleted)
            {
                _queue.WakeDeferredReader(inline: false);
                return true;
            }

            return false;
        }
    }

    public SocketReadAwaitable GetAwaiter() => this;

    public int GetResult() => _read.GetResult();

    public void OnCompleted(Action continuation)
    {
        _read.OnCompleted(continuation);
        _queue.WakeDeferredReader(inline: true);
    }

    public void UnsafeOnCompleted(Action continuation)
    {
        _read.UnsafeOnCompleted(continuation);
        _queue.WakeDeferredReader(inline: true);
    }
}
