using System.Runtime.CompilerServices;
using Duplex.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Duplex.Connection.Receive;

/// <summary>
/// The thread a connection with <see cref="WebSocketConnectionOptions.DedicatedReceiveThread"/> is read
/// on: the receive loop runs on it with blocking reads, and when a message is there for a waiting
/// receive call (or the client's message pump), that caller continues on this thread — one thread
/// wake-up per message, and no thread-pool hop. Owns the loop's continuation while the caller runs,
/// and a watch that hands the loop to a new thread when the caller keeps this one too long, so Pings,
/// Pongs and the closing handshake never wait for application code for more than about
/// <see cref="TakeOverAfter"/>.
/// </summary>
/// <remarks>
/// <para>
/// The loop's awaits complete synchronously here (the stream blocks, and a full receive queue blocks
/// the thread) except one: <see cref="LetReaderRun"/>, which parks the loop's continuation, runs the
/// waiting caller, and lets whoever claims the continuation first go on with the loop — this thread
/// once the caller returns, or a new thread the watch starts. The continuation is claimed with one
/// atomic exchange, so the loop runs on one thread at a time. A thread that finds nothing to claim
/// (the loop was taken over, or ended) ends.
/// </para>
/// <para>
/// The closing handshake and a protocol violation are the loop's last awaits: they may finish on
/// another thread, and the loop ends there.
/// </para>
/// </remarks>
internal sealed class ReceiveThread
{
    /// <summary>How long a caller may keep the thread before another one takes over reading.</summary>
    public static readonly TimeSpan TakeOverAfter = TimeSpan.FromMilliseconds(100);

    private static readonly TimeSpan s_checkEvery = TimeSpan.FromMilliseconds(50);

    // The receive thread the current thread is, if any.
    [ThreadStatic]
    private static ReceiveThread? t_current;

    // Whether the current thread runs a reader's turn (application code) for a receive thread.
    [ThreadStatic]
    private static bool t_inReaderTurn;

    private readonly ReceiveQueue _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // The loop's continuation while a caller runs on the loop's thread; claimed by Interlocked.Exchange.
    private Action? _loop;

    // When the running caller started (a TimeProvider timestamp); 0 while none runs.
    private long _callerSince;
    private int _threads;

    // The watch ticks only while callers run: a tick that finds none stops it, and the next turn starts it
    // again; null once the loop has ended. Guarded by _watchLock, except _watchStopped's read at the start of a turn.
    private readonly object _watchLock = new();
    private ITimer? _watch;
    private bool _watchStopped = true;

    public ReceiveThread(ReceiveQueue queue, TimeProvider time, ILogger logger)
    {
        _queue = queue;
        _time = time;
        _logger = logger;
    }

    /// <summary>How many threads have run the loop so far (1, plus one per take-over).</summary>
    public int Threads => Volatile.Read(ref _threads);

    /// <summary>
    /// Whether the current thread runs the turn of a woken caller on a receive thread: the code that
    /// answers a message, whose sends are written inline (see <c>FrameSender</c>).
    /// </summary>
    public static bool InReaderTurn => t_inReaderTurn;

    /// <summary>Whether a receive call (or the client's pump) is running on the loop's thread now.</summary>
    public bool CallerRunning => Volatile.Read(ref _callerSince) != 0;

    /// <summary>
    /// Whether the watch's timer is ticking: from the start of a caller's turn until a tick finds no caller
    /// running, so an idle connection's thread costs no timer.
    /// </summary>
    public bool Watching
    {
        get
        {
            lock (_watchLock)
            {
                return !_watchStopped;
            }
        }
    }

    /// <summary>Completes when the loop has ended.</summary>
    public Task Ended => _ended.Task;

    /// <summary>Starts the thread, which runs <paramref name="loop"/> (the receive loop) until it parks or ends.</summary>
    public Task Start(Func<Task> loop)
    {
        _watch = _time.CreateTimer(static state => ((ReceiveThread)state!).Check(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        StartThread(() => _ = ObserveAsync(loop()));
        return _ended.Task;
    }

    /// <summary>
    /// Awaited by the loop before a read while a caller's wake is deferred: the caller continues on
    /// this thread, then the loop (see the remarks of <see cref="ReceiveThread"/>).
    /// </summary>
    public ReaderTurn LetReaderRun() => new(this);

    private void RunReader(Action loop)
    {
        if (t_current != this)
        {
            // The loop strayed onto another thread (an await that did not complete synchronously after
            // all): the caller is woken on the thread pool, and the loop goes on on a new thread of its own.
            _queue.WakeDeferredReader(inline: false);
            StartThread(loop);
            return;
        }

        long since = _time.GetTimestamp() | 1; // never 0

        // The turn is marked before the loop is parked, so a tick in between cannot take the new turn's loop
        // on the strength of an older caller's mark. A full fence between marking the turn and reading whether
        // the watch stopped: a tick stopping it either sees this turn and keeps ticking, or has stopped it, and
        // this turn sees that and starts it again.
        Interlocked.Exchange(ref _callerSince, since);
        Volatile.Write(ref _loop, loop);
        if (Volatile.Read(ref _watchStopped))
        {
            StartWatch();
        }

        t_inReaderTurn = true;
        try
        {
            _queue.WakeDeferredReader(inline: true);
        }
        finally
        {
            t_inReaderTurn = false;

            // Only this turn's mark: a thread that took over may have started a turn of its own.
            Interlocked.CompareExchange(ref _callerSince, 0, since);
        }
    }

    /// <summary>The watch's tick: a caller that has kept the loop's thread too long loses it.</summary>
    private void Check()
    {
        long since = Volatile.Read(ref _callerSince);
        if (since == 0)
        {
            StopWatchUnlessCalled();
            return;
        }

        if (_time.GetElapsedTime(since) < TakeOverAfter)
        {
            return;
        }

        if (Interlocked.Exchange(ref _loop, null) is { } loop)
        {
            Log.ReceiveThreadTakenOver(_logger, TakeOverAfter);
            StartThread(loop);
        }
    }

    private void StartWatch()
    {
        lock (_watchLock)
        {
            if (_watchStopped && _watch is not null)
            {
                _watchStopped = false;
                _watch.Change(s_checkEvery, s_checkEvery);
            }
        }
    }

    /// <summary>Stops the watch, unless a caller's turn has begun since the tick looked.</summary>
    private void StopWatchUnlessCalled()
    {
        lock (_watchLock)
        {
            // An ended loop's watch is stopped for good.
            if (_watchStopped)
            {
                return;
            }

            // The other half of the fence in RunReader.
            Volatile.Write(ref _watchStopped, true);
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _callerSince) != 0)
            {
                _watchStopped = false;
                return;
            }

            _watch!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Runs <paramref name="first"/> (the loop, or its continuation) on a new thread that then goes on with the
    /// loop; on the thread pool when no thread can be started (the loop then runs there, its reads blocking a
    /// pool thread, and comes back to a thread of its own at its next reader turn). Never throws.
    /// </summary>
    private void StartThread(Action first)
    {
        try
        {
            StartOwnThread(first);
        }
#pragma warning disable CA1031 // A thread that cannot start must not lose the loop or crash a timer callback.
        catch (Exception)
#pragma warning restore CA1031
        {
            Interlocked.Decrement(ref _threads);
            ThreadPool.UnsafeQueueUserWorkItem(static loop => loop(), first, preferLocal: false);
        }
    }

    private void StartOwnThread(Action first)
    {
        Interlocked.Increment(ref _threads);
        var thread = new Thread(static state =>
        {
            var (self, first) = ((ReceiveThread, Action))state!;
            t_current = self;
            first();

            // Each claim runs the loop until it parks again (or ends): the thread goes on while it wins the claim.
            while (Interlocked.Exchange(ref self._loop, null) is { } next)
            {
                next();
            }
        })
        {
            IsBackground = true,
            Name = "Duplex receive",
        };
        thread.UnsafeStart((this, first));
    }

    private async Task ObserveAsync(Task loop)
    {
        try
        {
            // The loop never throws (it ends the connection instead); this only waits.
            await loop.ConfigureAwait(false);
        }
        finally
        {
            lock (_watchLock)
            {
                _watchStopped = true;
                _watch?.Dispose();
                _watch = null;
            }

            _ended.TrySetResult();
        }
    }

    /// <summary>The awaitable of <see cref="LetReaderRun"/>; always suspends the loop.</summary>
    internal readonly struct ReaderTurn(ReceiveThread thread) : ICriticalNotifyCompletion
    {
        public bool IsCompleted => false;

        public ReaderTurn GetAwaiter() => this;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => thread.RunReader(continuation);

        public void UnsafeOnCompleted(Action continuation) => thread.RunReader(continuation);
    }
}
