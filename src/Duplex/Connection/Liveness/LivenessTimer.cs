using System.Buffers.Binary;
using System.Net.WebSockets;
using Duplex.Diagnostics;

namespace Duplex.Connection.Liveness;

/// <summary>
/// The one timer of a connection, serving both ways of noticing a dead peer: keepalive (a Ping
/// every interval, failing with 1011 when its Pong does not come within the timeout) and the
/// silence watchdog (failing with 1001 when nothing at all arrived for the silence timeout). The
/// one-shot timer is due at whichever comes first: the next Ping, the outstanding Ping's deadline,
/// or the moment silence would reach its limit.
/// </summary>
/// <remarks>Its own monitor (<c>lock (this)</c>; the type is private to the connection) guards its state; it takes no other lock while holding it.</remarks>
internal sealed class LivenessTimer
{
    private readonly WebSocketConnection _connection;
    private readonly TimeProvider _time;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _silence;
    private ITimer? _timer;

    // When keepalive wants the timer next (a TimeProvider timestamp; long.MaxValue: never).
    private long _keepAliveDue = long.MaxValue;
    private PendingPings.Entry? _ping;

    // A check found the outstanding Ping's Pong held up behind data the application had not read.
    private bool _pongHeldUp;
    private int _counter;

    // Silence counts from no earlier than this: the last check that found reading paused.
    private long _silenceFrom;

    private LivenessTimer(WebSocketConnection connection, TimeProvider time, TimeSpan interval, TimeSpan timeout, TimeSpan silence)
    {
        _connection = connection;
        _time = time;
        _interval = interval;
        _timeout = timeout;
        _silence = silence;
    }

    /// <summary>Starts the timer for an open connection; null when keepalive and the silence watchdog are both off.</summary>
    public static LivenessTimer? Start(WebSocketConnection connection, TimeProvider time, TimeSpan interval, TimeSpan timeout, TimeSpan silence)
    {
        if (interval == Timeout.InfiniteTimeSpan && silence == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        var liveness = new LivenessTimer(connection, time, interval, timeout, silence);
        lock (liveness)
        {
            long now = time.GetTimestamp();
            if (interval != Timeout.InfiniteTimeSpan)
            {
                liveness._keepAliveDue = After(now, interval, time);
            }

            liveness._timer = time.CreateTimer(static s => ((LivenessTimer)s!).OnTimer(), liveness, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            liveness.ArmLocked(now);
        }

        return liveness;
    }

    /// <summary>Stops the timer for good.</summary>
    public void Stop()
    {
        lock (this)
        {
            _timer?.Dispose();
            _timer = null;
        }
    }

    /// <summary>A Pong arrived: if it answered keepalive's Ping, the next Ping goes one interval after that one.</summary>
    public void OnPong()
    {
        lock (this)
        {
            if (_ping is { Completion.Task.IsCompleted: true } answered)
            {
                _ping = null;
                long now = _time.GetTimestamp();
                TimeSpan elapsed = _time.GetElapsedTime(answered.Timestamp, now);
                SetKeepAliveDueLocked(now, elapsed < _interval ? _interval - elapsed : _interval);
            }
        }
    }

    private void OnTimer()
    {
        // Read before taking the lock: the connection's state has a lock of its own.
        if (!_connection.IsOpen)
        {
            return;
        }

        long now = _time.GetTimestamp();
        if (_silence != Timeout.InfiniteTimeSpan && _connection.ReceivePaused)
        {
            // Nobody reads while the application has not taken what came (or while a protocol violation
            // waits for it): the peer's silence cannot be told from ours. It gets a whole limit from now.
            Volatile.Write(ref _silenceFrom, now);
        }
        else if (_silence != Timeout.InfiniteTimeSpan && _time.GetElapsedTime(SilenceStart, now) >= _silence)
        {
            Log.SilenceTimeout(_connection.Logger, _silence);
            _connection.FailOnTimeout(
                WebSocketCloseStatus.EndpointUnavailable,
                "silence timeout",
                $"Nothing was received for {_silence.TotalSeconds:0.###} s.");
            return;
        }

        bool ping = false;
        bool timedOut = false;
        lock (this)
        {
            if (_timer is null)
            {
                return;
            }

            if (now >= _keepAliveDue)
            {
                (ping, timedOut) = KeepAliveDueLocked(now);
            }

            ArmLocked(now);
        }

        if (timedOut)
        {
            Log.KeepAliveTimeout(_connection.Logger, _timeout);

            // RFC 6455 §7.4.1: 1011, the connection met a condition that prevents it from going on.
            _connection.FailOnTimeout(
                WebSocketCloseStatus.InternalServerError,
                "keepalive ping timeout",
                $"No Pong arrived within the keepalive timeout of {_timeout.TotalSeconds:0.###} s.");
        }
        else if (ping)
        {
            SendPing();
        }
    }

    /// <summary>Keepalive's turn: whether to send the next Ping, or whether its Pong is overdue.</summary>
    private (bool Ping, bool TimedOut) KeepAliveDueLocked(long now)
    {
        if (_ping is null || _ping.Completion.Task.IsCompleted)
        {
            // The next Ping is due; keepalive sets its next moment once the Ping is out.
            _ping = null;
            _keepAliveDue = long.MaxValue;
            return (true, false);
        }

        if (_timeout == Timeout.InfiniteTimeSpan)
        {
            // No deadline: only wait for the Pong before the next Ping.
            SetKeepAliveDueLocked(now, _interval);
            return (false, false);
        }

        if (_connection.ReceivePaused)
        {
            // The Pong may be sitting behind messages the application has not read yet; that is
            // backpressure, not a dead peer. Look again later.
            _pongHeldUp = true;
            SetKeepAliveDueLocked(now, _timeout);
            return (false, false);
        }

        if (_pongHeldUp)
        {
            // Reading has resumed since the last check, and the Pong may come right after what was
            // left unread: the peer gets a whole timeout from now, as for a fresh Ping.
            _pongHeldUp = false;
            SetKeepAliveDueLocked(now, _timeout);
            return (false, false);
        }

        _keepAliveDue = long.MaxValue;
        return (false, true);
    }

    private void SendPing()
    {
        byte[] payload = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, Interlocked.Increment(ref _counter));
        PendingPings.Entry entry;
        try
        {
            entry = _connection.SendKeepAlivePing(payload);
        }
        catch (DuplexException)
        {
            // Closing or closed: keepalive has nothing left to do.
            return;
        }

        lock (this)
        {
            long now = _time.GetTimestamp();

            // A fast peer's Pong can be processed before this line runs; OnPong then found no
            // outstanding Ping to clear. Recording the answered Ping here would leave it outstanding for
            // good, and keepalive would stop without a word.
            if (entry.Completion.Task.IsCompleted)
            {
                SetKeepAliveDueLocked(now, _interval);
            }
            else
            {
                _ping = entry;
                _pongHeldUp = false;
                SetKeepAliveDueLocked(now, _timeout == Timeout.InfiniteTimeSpan ? _interval : _timeout);
            }

            ArmLocked(now);
        }
    }

    private void SetKeepAliveDueLocked(long now, TimeSpan after)
    {
        _keepAliveDue = After(now, after, _time);
        ArmLocked(now);
    }

    /// <summary>Sets the timer to the earliest of keepalive's next moment and the silence limit.</summary>
    private void ArmLocked(long now)
    {
        long due = _keepAliveDue;
        if (_silence != Timeout.InfiniteTimeSpan)
        {
            due = Math.Min(due, After(SilenceStart, _silence, _time));
        }

        if (due == long.MaxValue)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        TimeSpan wait = due <= now ? TimeSpan.Zero : _time.GetElapsedTime(now, due);
        _timer?.Change(wait, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Since when silence counts: the last bytes received, or the last check that found reading paused.</summary>
    private long SilenceStart => Math.Max(_connection.LastReceivedTimestamp, Volatile.Read(ref _silenceFrom));

    private static long After(long timestamp, TimeSpan span, TimeProvider time) =>
        timestamp + (long)(span.Ticks * (double)time.TimestampFrequency / TimeSpan.TicksPerSecond);
}
