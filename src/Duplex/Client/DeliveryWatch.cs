using Duplex.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Duplex.Client;

/// <summary>
/// The message pump's watch for slow deliveries (<see cref="WebSocketClientOptions.SlowHandlerThreshold"/>):
/// a timer that looks at the delivery in progress four times per threshold and reports one that has run
/// over it (<c>SlowMessageHandler</c>, while it still runs), and the duration of such a delivery once it
/// returns (<c>SlowMessageHandlerReturned</c>).
/// </summary>
/// <remarks>
/// <para>
/// A flood of messages costs the pump no clock read: it only numbers its deliveries, and the timer's tick
/// notes when it first sees a delivery running. A delivery that starts after the pump waited — for a
/// message, for a handler, or for a new connection — reads the clock at its start, so it is timed exactly;
/// one that follows another without a wait is timed from the tick that first saw it, so its figures can
/// be short by up to a quarter of the threshold. Neither is ever reported early.
/// </para>
/// <para>
/// The timer ticks only while the pump is busy; a tick that finds the pump waiting stops it, and the next
/// delivery after the wait starts it again.
/// </para>
/// </remarks>
internal sealed class DeliveryWatch
{
    private const long Unknown = long.MinValue;

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _threshold;

    // Written by the pump alone, read by the tick.
    // Odd while a delivery runs: each delivery adds one when it starts and one when it ends.
    private long _state;

    // When the running delivery started, if it started after a wait; Unknown otherwise.
    private long _start = Unknown;

    // Set by the pump before it waits; cleared (under the lock) when it delivers again.
    private bool _waiting;

    // Guarded by lock (this): the tick's, and the pump's when it resumes after a wait.
    private ITimer? _timer;
    private bool _armed;
    private bool _stopped;

    // The delivery (its odd state) the tick has seen running, from when it counts that one, and the last reported.
    private long _seenState;
    private long _seenSince;
    private long _reportedState;

    public DeliveryWatch(TimeProvider time, ILogger logger, TimeSpan threshold)
    {
        _time = time;
        _logger = logger;
        _threshold = threshold;
    }

    /// <summary>
    /// A delivery starts. <paramref name="afterWait"/>: the pump waited before it (or just began), so the
    /// watch may be stopped and the clock is read; otherwise it follows the last delivery at once.
    /// </summary>
    public void Begin(bool afterWait)
    {
        if (afterWait)
        {
            lock (this)
            {
                _waiting = false;
                if (!_armed && !_stopped)
                {
                    TimeSpan period = _threshold / 4;
                    _timer ??= _time.CreateTimer(static state => ((DeliveryWatch)state!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _timer.Change(period, period);
                    _armed = true;
                }
            }

            Volatile.Write(ref _start, _time.GetTimestamp());
        }
        else
        {
            Volatile.Write(ref _start, Unknown);
        }

        // Published after its start: a tick that sees the delivery running sees when it began.
        Volatile.Write(ref _state, _state + 1);
    }

    /// <summary>The delivery begun last has returned.</summary>
    public void End()
    {
        long running = _state;
        Volatile.Write(ref _state, running + 1);
        long start = _start;
        long since;
        if (start != Unknown)
        {
            // Timed exactly: it followed a wait, whose cost dwarfs this clock read.
            since = start;
        }
        else if (Volatile.Read(ref _seenState) == running)
        {
            // Seen running by a tick, so it took at least a quarter of the threshold: it may have been slow.
            lock (this)
            {
                since = _seenSince;
            }
        }
        else
        {
            // No tick saw it: it ended within a quarter of the threshold of its start.
            return;
        }

        TimeSpan took = _time.GetElapsedTime(since);
        if (took >= _threshold)
        {
            Log.SlowMessageHandlerReturned(_logger, took, _threshold);
        }
    }

    /// <summary>The pump is about to wait (for a message, a consumer or a connection): the next tick may stop the timer.</summary>
    public void Waiting() => Volatile.Write(ref _waiting, true);

    /// <summary>Stops the timer for good. Idempotent.</summary>
    public void Stop()
    {
        lock (this)
        {
            _stopped = true;
            _timer?.Dispose();
            _timer = null;
        }
    }

    /// <summary>The timer's tick: reports a delivery running over the threshold, once; stops the timer while the pump waits.</summary>
    private void Tick()
    {
        TimeSpan elapsed;
        lock (this)
        {
            if (_stopped)
            {
                return;
            }

            long state = Volatile.Read(ref _state);
            if ((state & 1) == 0)
            {
                if (Volatile.Read(ref _waiting))
                {
                    // A waiting pump keeps no ticking timer; its next delivery starts it again under this lock.
                    _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _armed = false;
                }

                return;
            }

            long now = _time.GetTimestamp();
            if (state != _seenState)
            {
                long start = Volatile.Read(ref _start);
                if (Volatile.Read(ref _state) != state)
                {
                    // It ended meanwhile; the start read may be the next one's.
                    return;
                }

                _seenState = state;
                _seenSince = start != Unknown ? start : now;
            }

            elapsed = _time.GetElapsedTime(_seenSince, now);
            if (elapsed < _threshold || _reportedState == state)
            {
                return;
            }

            _reportedState = state;
        }

        Log.SlowMessageHandler(_logger, elapsed, _threshold);
    }
}
