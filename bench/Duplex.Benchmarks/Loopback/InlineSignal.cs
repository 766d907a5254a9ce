using System.Threading.Tasks.Sources;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// A reusable awaitable that a message callback completes; the waiter continues synchronously inside
/// the callback, as code written in the callback itself would (no thread hop of the benchmark's own).
/// Used by the callback-based clients (Duplex's client handlers, Websocket.Client's observable) to
/// wait for an echo. Arm it before sending, so the echo cannot arrive before anyone waits for it.
/// </summary>
/// <typeparam name="T">What the callback hands over.</typeparam>
internal sealed class InlineSignal<T> : IValueTaskSource<T>, IDisposable
{
    private ManualResetValueTaskSourceCore<T> _core = new() { RunContinuationsAsynchronously = false };
    private int _armed;
    private CancellationToken _token;
    private CancellationTokenRegistration _registration;

    /// <summary>Starts a wait; <paramref name="cancellationToken"/> fails it (registered once per token, not per wait).</summary>
    public ValueTask<T> Arm(CancellationToken cancellationToken)
    {
        if (cancellationToken != _token)
        {
            _registration.Dispose();
            _token = cancellationToken;
            _registration = cancellationToken.UnsafeRegister(static (state, token) => ((InlineSignal<T>)state!).TryFail(new OperationCanceledException(token)), this);
        }

        _core.Reset();
        Volatile.Write(ref _armed, 1);
        return new ValueTask<T>(this, _core.Version);
    }

    /// <summary>Completes the current wait, if there is one.</summary>
    public bool TrySet(T value)
    {
        if (Interlocked.Exchange(ref _armed, 0) != 1)
        {
            return false;
        }

        _core.SetResult(value);
        return true;
    }

    public void Dispose() => _registration.Dispose();

    T IValueTaskSource<T>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<T>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<T>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void TryFail(Exception error)
    {
        if (Interlocked.Exchange(ref _armed, 0) == 1)
        {
            _core.SetException(error);
        }
    }
}
