using System.Runtime.CompilerServices;

namespace Duplex.Connection.Receive;

/// <summary>
/// How the receive loop awaits something that does not need its thread — a socket read, or a large
/// frame coming back from a receive call — while it holds back a reader's wake
/// (<see cref="ReceiveQueue.WakeDeferredReader"/>). Awaited like <c>ConfigureAwait(false)</c>. If the
/// operation has completed, the reader is woken on the thread pool while the loop goes on here. If it
/// is pending, the loop's continuation is registered with it first and the reader then continues on
/// this thread: the loop no longer needs it, and it resumes wherever the operation completes even if
/// the application blocks here. Only for the loop's own awaits (not inside a method the loop awaits),
/// so that nothing of the loop is left on this thread's stack below the application.
/// </summary>
/// <typeparam name="T">The operation's result.</typeparam>
internal readonly struct ReaderWakingAwaitable<T> : ICriticalNotifyCompletion
{
    private readonly ConfiguredValueTaskAwaitable<T>.ConfiguredValueTaskAwaiter _operation;
    private readonly ReceiveQueue _queue;

    public ReaderWakingAwaitable(ValueTask<T> operation, ReceiveQueue queue)
    {
        _operation = operation.ConfigureAwait(false).GetAwaiter();
        _queue = queue;
    }

    public bool IsCompleted
    {
        get
        {
            if (_operation.IsCompleted)
            {
                _queue.WakeDeferredReader(inline: false);
                return true;
            }

            return false;
        }
    }

    public ReaderWakingAwaitable<T> GetAwaiter() => this;

    public T GetResult() => _operation.GetResult();

    public void OnCompleted(Action continuation)
    {
        _operation.OnCompleted(continuation);
        _queue.WakeDeferredReader(inline: true);
    }

    public void UnsafeOnCompleted(Action continuation)
    {
        _operation.UnsafeOnCompleted(continuation);
        _queue.WakeDeferredReader(inline: true);
    }
}
