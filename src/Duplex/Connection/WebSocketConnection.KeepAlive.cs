using System.Buffers.Binary;
using System.Net.WebSockets;
using Duplex.Diagnostics;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    private PendingPings? _pings;
    private ITimer? _keepAliveTimer;
    private PendingPings.Entry? _keepAlivePing;

    // A check found the outstanding Ping's Pong held up behind data the application had not read.
    private bool _keepAlivePongHeldUp;
    private int _keepAliveCounter;

    /// <summary>The round-trip time of the most recent Ping answered (keepalive or <see cref="PingAsync"/>); null before any.</summary>
    public TimeSpan? LastRoundTripTime => Volatile.Read(ref _pings)?.LastRoundTrip;

    /// <summary>Created with the first Ping: an idle connection that never pinged keeps no list.</summary>
    private PendingPings Pings
    {
        get
        {
            PendingPings? existing = Volatile.Read(ref _pings);
            return existing ?? Interlocked.CompareExchange(ref _pings, new PendingPings(), null) ?? _pings!;
        }
    }

    /// <summary>
    /// Sends a Ping with <paramref name="payload"/> and completes when its Pong arrives (or a Pong
    /// for a later Ping, which acknowledges this one too), with the round-trip time.
    /// </summary>
    /// <param name="payload">At most 125 bytes of application data (RFC 6455 §5.5).</param>
    /// <param name="cancellationToken">Stops waiting for the Pong; the connection stays open.</param>
    /// <returns>The time from sending the Ping to receiving its Pong.</returns>
    /// <exception cref="ArgumentException">The payload is longer than 125 bytes.</exception>
    /// <exception cref="WebSocketClosedException">The connection was closed, lost or failed before the
    /// Pong arrived; each waiting call gets an exception of its own, with what ended the connection
    /// (an <see cref="IOException"/>, a <see cref="TimeoutException"/>, a
    /// <see cref="WebSocketProtocolException"/>) as its <see cref="Exception.InnerException"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<TimeSpan> PingAsync(ReadOnlyMemory<byte> payload = default, CancellationToken cancellationToken = default)
    {
        if (payload.Length > FrameHeader.MaxControlPayload)
        {
            throw new ArgumentException($"A Ping payload must be at most {FrameHeader.MaxControlPayload} bytes.", nameof(payload));
        }

        cancellationToken.ThrowIfCancellationRequested();
        PendingPings.Entry entry = SendPing(payload.ToArray(), byCaller: true);

        // The Pong comes after any large frame a receive call has left half read: the loop reads it.
        TakeFrameBack();
        try
        {
            TimeSpan rtt = await entry.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return rtt;
        }
        catch (OperationCanceledException)
        {
            Pings.Remove(entry);
            throw;
        }
    }

    private PendingPings.Entry SendPing(byte[] payload, bool byCaller)
    {
        // Registered before sending, so a fast Pong always finds it.
        PendingPings.Entry entry = Pings.Add(payload, _time.GetTimestamp(), byCaller);
        try
        {
            AppendFrame(Opcode.Ping, fin: true, payload.Length, new ReadOnlyMemory<byte>(payload), s_copyBytes, control: true);
        }
        catch
        {
            Pings.Remove(entry);
            throw;
        }

        return entry;
    }

    private void StartKeepAlive()
    {
        TimeSpan interval = _keepAliveInterval;
        if (interval == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        lock (_stateLock)
        {
            if (_tornDown)
            {
                return;
            }

            // One one-shot timer serves both the interval and the Pong deadline: it is due at the next
            // Ping while none is outstanding, and at the outstanding Ping's deadline otherwise.
            _keepAliveTimer = _time.CreateTimer(static s => ((WebSocketConnection)s!).OnKeepAliveTimer(), this, interval, Timeout.InfiniteTimeSpan);
        }
    }

    private void StopKeepAlive()
    {
        lock (_stateLock)
        {
            _keepAliveTimer?.Dispose();
            _keepAliveTimer = null;
        }
    }

    /// <summary>Arms the keepalive timer; call under the state lock.</summary>
    private void ArmKeepAlive(TimeSpan due) => _keepAliveTimer?.Change(due, Timeout.InfiniteTimeSpan);

    private void OnKeepAliveTimer()
    {
        TimeSpan interval = _keepAliveInterval;
        TimeSpan timeout = _keepAliveTimeout;
        bool timedOut = false;
        lock (_stateLock)
        {
            if (_state != WebSocketConnectionState.Open || _keepAliveTimer is null)
            {
                return;
            }

            if (_keepAlivePing is { } outstanding)
            {
                if (outstanding.Completion.Task.IsCompleted)
                {
                    _keepAlivePing = null;
                }
                else if (timeout == Timeout.InfiniteTimeSpan)
                {
                    // No deadline: only wait for the Pong before the next Ping.
                    ArmKeepAlive(interval);
                    return;
                }
                else if (_receivePaused)
                {
                    // The Pong may be sitting behind messages the application has not read yet; that
                    // is backpressure, not a dead peer. Look again later.
                    _keepAlivePongHeldUp = true;
                    ArmKeepAlive(timeout);
                    return;
                }
                else if (_keepAlivePongHeldUp)
                {
                    // Reading has resumed since the last check, and the Pong may come right after what
                    // was left unread: the peer gets a whole timeout from now, as for a fresh Ping.
                    _keepAlivePongHeldUp = false;
                    ArmKeepAlive(timeout);
                    return;
                }
                else
                {
                    timedOut = true;
                }
            }
        }

        if (timedOut)
        {
            FailKeepAlive(timeout);
            return;
        }

        byte[] payload = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, Interlocked.Increment(ref _keepAliveCounter));
        try
        {
            PendingPings.Entry entry = SendPing(payload, byCaller: false);
            lock (_stateLock)
            {
                // A fast peer's Pong can be processed before this line runs; OnKeepAlivePong then found no
                // outstanding Ping to clear. Recording the answered Ping here would leave it outstanding for
                // good, and keepalive would stop without a word.
                if (entry.Completion.Task.IsCompleted)
                {
                    ArmKeepAlive(interval);
                    return;
                }

                _keepAlivePing = entry;
                _keepAlivePongHeldUp = false;
                ArmKeepAlive(timeout == Timeout.InfiniteTimeSpan ? interval : timeout);
            }
        }
        catch (DuplexException)
        {
            // Closing or closed: keepalive has nothing left to do.
        }
    }

    private void OnKeepAlivePong()
    {
        lock (_stateLock)
        {
            if (_keepAlivePing is { Completion.Task.IsCompleted: true } answered)
            {
                _keepAlivePing = null;

                // The next Ping goes one interval after the one just answered.
                TimeSpan interval = _keepAliveInterval;
                TimeSpan elapsed = _time.GetElapsedTime(answered.Timestamp);
                ArmKeepAlive(elapsed < interval ? interval - elapsed : interval);
            }
        }
    }

    private void FailKeepAlive(TimeSpan timeout)
    {
        Log.KeepAliveTimeout(_logger, timeout);

        // RFC 6455 §7.4.1: 1011, the connection met a condition that prevents it from going on.
        FailOnTimeout(
            WebSocketCloseStatus.InternalServerError,
            "keepalive ping timeout",
            $"No Pong arrived within the keepalive timeout of {timeout.TotalSeconds:0.###} s.");
    }
}
