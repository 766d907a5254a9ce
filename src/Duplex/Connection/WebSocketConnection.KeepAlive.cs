using System.Buffers.Binary;
using System.Net.WebSockets;
using Duplex.Diagnostics;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    private readonly PendingPings _pings = new();
    private ITimer? _keepAliveTimer;
    private ITimer? _keepAliveTimeoutTimer;
    private PendingPings.Entry? _keepAlivePing;
    private int _keepAliveCounter;

    /// <summary>The round-trip time of the most recent Ping answered (keepalive or <see cref="PingAsync"/>); null before any.</summary>
    public TimeSpan? LastRoundTripTime => _pings.LastRoundTrip;

    /// <summary>
    /// Sends a Ping with <paramref name="payload"/> and completes when its Pong arrives (or a Pong
    /// for a later Ping, which acknowledges this one too), with the round-trip time.
    /// </summary>
    /// <param name="payload">At most 125 bytes of application data (RFC 6455 §5.5).</param>
    /// <param name="cancellationToken">Stops waiting for the Pong; the connection stays open.</param>
    /// <returns>The time from sending the Ping to receiving its Pong.</returns>
    /// <exception cref="ArgumentException">The payload is longer than 125 bytes.</exception>
    /// <exception cref="WebSocketClosedException">The connection closed before the Pong arrived.</exception>
    public async ValueTask<TimeSpan> PingAsync(ReadOnlyMemory<byte> payload = default, CancellationToken cancellationToken = default)
    {
        if (payload.Length > FrameHeader.MaxControlPayload)
        {
            throw new ArgumentException($"A Ping payload must be at most {FrameHeader.MaxControlPayload} bytes.", nameof(payload));
        }

        cancellationToken.ThrowIfCancellationRequested();
        PendingPings.Entry entry = SendPing(payload.ToArray());
        try
        {
            TimeSpan rtt = await entry.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return rtt;
        }
        catch (OperationCanceledException)
        {
            _pings.Remove(entry);
            throw;
        }
    }

    private PendingPings.Entry SendPing(byte[] payload)
    {
        // Registered before sending, so a fast Pong always finds it.
        PendingPings.Entry entry = _pings.Add(payload, _time.GetTimestamp());
        try
        {
            AppendFrame(Opcode.Ping, fin: true, payload.Length, new ReadOnlyMemory<byte>(payload), s_copyBytes, control: true);
        }
        catch
        {
            _pings.Remove(entry);
            throw;
        }

        return entry;
    }

    private void StartKeepAlive()
    {
        TimeSpan interval = _options.KeepAliveInterval;
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

            _keepAliveTimeoutTimer = _time.CreateTimer(static s => ((WebSocketConnection)s!).OnKeepAliveTimeout(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _keepAliveTimer = _time.CreateTimer(static s => ((WebSocketConnection)s!).OnKeepAliveTick(), this, interval, interval);
        }
    }

    private void StopKeepAlive()
    {
        lock (_stateLock)
        {
            _keepAliveTimer?.Dispose();
            _keepAliveTimeoutTimer?.Dispose();
            _keepAliveTimer = null;
            _keepAliveTimeoutTimer = null;
        }
    }

    private void OnKeepAliveTick()
    {
        lock (_stateLock)
        {
            if (_state != WebSocketConnectionState.Open || _keepAlivePing is not null)
            {
                return;
            }
        }

        byte[] payload = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, Interlocked.Increment(ref _keepAliveCounter));
        try
        {
            PendingPings.Entry entry = SendPing(payload);
            lock (_stateLock)
            {
                // A fast peer's Pong can be processed before this line runs; OnKeepAlivePong then found no
                // outstanding Ping to clear. Recording the answered Ping here would leave it outstanding for
                // good, and every later tick would skip: keepalive would stop without a word.
                if (entry.Completion.Task.IsCompleted)
                {
                    return;
                }

                _keepAlivePing = entry;
                if (_options.KeepAliveTimeout != Timeout.InfiniteTimeSpan)
                {
                    _keepAliveTimeoutTimer?.Change(_options.KeepAliveTimeout, Timeout.InfiniteTimeSpan);
                }
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
            if (_keepAlivePing is { Completion.Task.IsCompleted: true })
            {
                _keepAlivePing = null;
                _keepAliveTimeoutTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }
    }

    private void OnKeepAliveTimeout()
    {
        lock (_stateLock)
        {
            if (_keepAlivePing is null || _keepAlivePing.Completion.Task.IsCompleted || _tornDown)
            {
                return;
            }

            if (_receivePaused)
            {
                // The Pong may be sitting behind messages the application has not read yet; that is
                // backpressure, not a dead peer. Look again later.
                _keepAliveTimeoutTimer?.Change(_options.KeepAliveTimeout, Timeout.InfiniteTimeSpan);
                return;
            }
        }

        Log.KeepAliveTimeout(_logger, _options.KeepAliveTimeout);
        var error = new WebSocketClosedException(
            $"No Pong arrived within the keepalive timeout of {_options.KeepAliveTimeout.TotalSeconds:0.###} s.",
            WebSocketCloseStatus.InternalServerError,
            "keepalive ping timeout",
            closedByPeer: false,
            new TimeoutException("Keepalive ping timeout."));

        // RFC 6455 §7.4.1: 1011, the connection met a condition that prevents it from going on.
        _ = FailAsync(WebSocketCloseStatus.InternalServerError, "keepalive ping timeout", error);
    }
}
