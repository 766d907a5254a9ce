using System.Threading.Channels;
using Duplex.Connection;
using Duplex.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Duplex.Client;

/// <summary>
/// The client's message pump: takes the messages of its connections — one connection after the other,
/// in the order they were opened — and hands each to the client's delivery (message handlers, then
/// readers), one message at a time. It runs apart from the supervisor, so a handler that does not
/// return holds up only the messages behind it: the supervisor still sees the connection end, decides
/// about reconnecting and opens the next connection, whose messages queue here behind the old ones.
/// </summary>
/// <remarks>
/// One pump serves one run of the client (connect to close); <see cref="Stop"/> ends it for good. The
/// loop exists only while a connection is attached; between connections it is gone.
/// </remarks>
internal sealed class MessagePump
{
    private const long NoDelivery = long.MinValue;

    private readonly WebSocketClient _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _slowThreshold;
    // The handlers' token, cancelled by Stop; created with the first delivery.
    private CancellationTokenSource? _stop;

    // The pump's own monitor (lock (this); the type is the client's own) guards everything below; taken
    // twice per delivery when slow deliveries are watched.
    // The attached connections, oldest first, linked through Source.Next (no queue object for an idle client).
    private Source? _head;
    private Source? _tail;
    private bool _running;
    private bool _stopped;
    private TaskCompletionSource? _idle;
    private TaskCompletionSource? _consumerAdded;
    private bool _waitingForConsumer;

    // The delivery in progress, for the slow-delivery watch.
    private long _deliveryStart = NoDelivery;
    private long _deliveryNumber;
    private long _reportedNumber;
    private ITimer? _watch;
    private bool _watchArmed;

    public MessagePump(WebSocketClient client, TimeProvider time, ILogger logger, TimeSpan slowThreshold)
    {
        _client = client;
        _time = time;
        _logger = logger;
        _slowThreshold = slowThreshold;
    }

    /// <summary>Queues <paramref name="source"/>'s connection behind those already attached; its messages follow theirs.</summary>
    public void Attach(Source source)
    {
        lock (this)
        {
            if (!_stopped)
            {
                if (_tail is null)
                {
                    _head = source;
                }
                else
                {
                    _tail.Next = source;
                }

                _tail = source;
                if (!_running)
                {
                    _running = true;
                    _ = RunAsync();
                }

                return;
            }
        }

        // The run is over: nobody will take these messages any more.
        source.Complete();
    }

    /// <summary>
    /// Completes when the pump has nothing it could deliver now: every attached connection has reached
    /// its end, or no handler or reader is there to take the next message, or the pump stopped.
    /// </summary>
    public Task WhenIdleAsync()
    {
        lock (this)
        {
            if (!_running || _stopped || _waitingForConsumer)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task;
        }
    }

    /// <summary>A handler or reader appeared: a pump that waits for one goes on.</summary>
    public void OnConsumerAdded()
    {
        TaskCompletionSource? added;
        lock (this)
        {
            added = _consumerAdded;
            _consumerAdded = null;
            _waitingForConsumer = false;
        }

        added?.TrySetResult();
    }

    /// <summary>
    /// Ends the run: cancels the token the handlers were given, leaves behind a delivery that has not
    /// returned (the loop still awaits it, so its outcome is observed and reported), and releases
    /// everyone waiting for the attached connections to be delivered. Idempotent.
    /// </summary>
    public void Stop()
    {
        Source[] abandoned;
        TaskCompletionSource? idle;
        TaskCompletionSource? added;
        lock (this)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            var list = new List<Source>();
            for (Source? s = _head; s is not null; s = s.Next)
            {
                list.Add(s);
            }

            abandoned = [.. list];
            _head = _tail = null;
            idle = _idle;
            _idle = null;
            added = _consumerAdded;
            _consumerAdded = null;
            _watch?.Dispose();
            _watch = null;
        }

        try
        {
            _stop?.Cancel();
        }
        catch (AggregateException)
        {
            // A handler's cancellation callback threw; that is the handler's business.
        }

        foreach (Source source in abandoned)
        {
            source.Complete();
        }

        idle?.TrySetResult();
        added?.TrySetResult();
    }

    // Read on every message without the lock; Stop writes it under the lock.
    private bool IsStopRequested => Volatile.Read(ref _stopped);

    /// <summary>The token the handlers get: cancelled once the pump stops.</summary>
    private CancellationToken HandlerToken => Volatile.Read(ref _stop)?.Token ?? CreateHandlerToken();

    private CancellationToken CreateHandlerToken()
    {
        lock (this)
        {
            return _stopped ? new CancellationToken(canceled: true) : (_stop ??= new CancellationTokenSource()).Token;
        }
    }

    private async Task RunAsync()
    {
        // Off the attaching thread at once: no handler ever runs on the supervisor's.
        await Task.Yield();
        while (true)
        {
            Source? source;
            lock (this)
            {
                if (_stopped)
                {
                    return;
                }

                source = _head;
                if (source is null)
                {
                    _running = false;
                    TaskCompletionSource? idle = _idle;
                    _idle = null;
                    idle?.TrySetResult();
                    return;
                }
            }

            // One connection's messages, until its queue ends (or the pump stops); inline, so the loop is
            // one state machine.
            WebSocketConnection connection = source.Connection;

            // When the last delivery ended, while the next message follows it without a wait: that
            // moment starts the next delivery's watch too (one clock read per message in a flood).
            long lastEnded = NoDelivery;
            try
            {
                while (!IsStopRequested)
                {
                    if (!_client.HasMessageConsumer())
                    {
                        // Nobody would see the message: it stays in the connection's queue (reading
                        // pauses when that is full) until a handler or reader appears.
                        lastEnded = NoDelivery;
                        await WaitForConsumerAsync().ConfigureAwait(false);
                        continue;
                    }

                    // Waits on the connection's queue itself rather than in ReceiveMessageAsync, so an idle
                    // client holds no receive call's state.
                    if (!connection.TryReceiveMessage(out WebSocketMessage message))
                    {
                        lastEnded = NoDelivery;
                        if (await connection.WaitForMessagesAsync().ConfigureAwait(false))
                        {
                            continue;
                        }

                        message = connection.MessageAfterEnd();
                    }

                    if (message.IsClose)
                    {
                        break;
                    }

                    lastEnded = await DeliverAsync(message, HandlerToken, lastEnded).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is DuplexException or ChannelClosedException)
            {
                // The connection failed: what it delivered before stays delivered; the supervisor learns
                // why from the connection itself. One failed for a protocol violation is still sending its
                // Close behind the handlers' replies and waiting (bounded) for the server to end TCP
                // (RFC 6455 §7.1.1): aborting it would cut both short.
                if (ex is not WebSocketProtocolException)
                {
                    connection.Abort();
                }
            }

            lock (this)
            {
                if (_stopped)
                {
                    // Stop released the sources already.
                    return;
                }

                _head = source.Next;
                if (_head is null)
                {
                    _tail = null;
                }
            }

            source.Complete();
        }
    }

    private Task WaitForConsumerAsync()
    {
        TaskCompletionSource added;
        TaskCompletionSource? idle;
        Source? stalled;
        lock (this)
        {
            if (_stopped || _client.HasMessageConsumer())
            {
                return Task.CompletedTask;
            }

            added = _consumerAdded ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waitingForConsumer = true;

            // Nothing can be delivered until someone consumes: a close need not wait for the pump,
            // nor the events that follow the connection (its disconnect) for its messages.
            idle = _idle;
            _idle = null;
            stalled = _head;
        }

        idle?.TrySetResult();
        stalled?.Settle();
        return added.Task;
    }

    /// <summary>
    /// Delivers one message, watched for slowness from <paramref name="startedAt"/> (the end of the
    /// delivery it follows without a wait) or from now; returns when it ended (<see cref="NoDelivery"/>
    /// when unwatched).
    /// </summary>
    private async ValueTask<long> DeliverAsync(WebSocketMessage message, CancellationToken token, long startedAt)
    {
        bool watched = _slowThreshold != Timeout.InfiniteTimeSpan;
        long started = watched ? StartWatch(startedAt) : 0;
        try
        {
            await _client.DeliverReceivedAsync(message, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The run ended while a handler ran.
        }
#pragma warning disable CA1031 // The delivery reports handler failures itself; anything else must not end the pump.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.HandlerFailed(_logger, "message", ex);
        }

        // Every exception was caught above: the watch always ends here.
        return watched ? EndWatch(started) : NoDelivery;
    }

    private long StartWatch(long startedAt)
    {
        // Lock-free on every message: only the pump writes these two, and the watch's tick only reads them.
        long now = startedAt != NoDelivery ? startedAt : _time.GetTimestamp();
        Volatile.Write(ref _deliveryNumber, _deliveryNumber + 1);
        Interlocked.Exchange(ref _deliveryStart, now); // a full fence: the flag is read after the start is seen
        if (!Volatile.Read(ref _watchArmed))
        {
            lock (this)
            {
                if (!_watchArmed && !_stopped)
                {
                    // Checked four times per threshold, so a slow delivery is noticed at most a quarter late.
                    TimeSpan period = _slowThreshold / 4;
                    _watch ??= _time.CreateTimer(static state => ((MessagePump)state!).CheckSlowDelivery(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    _watch.Change(period, period);
                    _watchArmed = true;
                }
            }
        }

        return now;
    }

    /// <summary>Ends the watch of the delivery that started at <paramref name="started"/>; returns the moment it ended.</summary>
    private long EndWatch(long started)
    {
        long ended = _time.GetTimestamp();
        TimeSpan took = _time.GetElapsedTime(started, ended);
        Volatile.Write(ref _deliveryStart, NoDelivery);
        if (took >= _slowThreshold)
        {
            Log.SlowMessageHandlerReturned(_logger, took, _slowThreshold);
        }

        return ended;
    }

    /// <summary>The watch's tick: reports a delivery over the threshold once; disarms itself while the pump is idle.</summary>
    private void CheckSlowDelivery()
    {
        TimeSpan elapsed;
        lock (this)
        {
            long number = Volatile.Read(ref _deliveryNumber);
            long start = Volatile.Read(ref _deliveryStart);
            if (start == NoDelivery)
            {
                // No delivery in progress: an idle pump keeps no ticking timer. A delivery that starts
                // right after arms it again (it reads the flag after publishing its start).
                _watch?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                Volatile.Write(ref _watchArmed, false);
                Thread.MemoryBarrier(); // the start is read after the flag is seen cleared
                if (Volatile.Read(ref _deliveryStart) == NoDelivery || _stopped)
                {
                    return;
                }

                // One started meanwhile and may have seen the flag still set: keep watching it.
                TimeSpan period = _slowThreshold / 4;
                _watch?.Change(period, period);
                _watchArmed = true;
                return;
            }

            elapsed = _time.GetElapsedTime(start);
            if (elapsed < _slowThreshold || _reportedNumber == number)
            {
                return;
            }

            _reportedNumber = number;
        }

        Log.SlowMessageHandler(_logger, elapsed, _slowThreshold);
    }

    /// <summary>One connection whose messages the pump delivers.</summary>
    internal sealed class Source(WebSocketConnection connection)
    {
        private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // Created only when someone waits for Settled before the end: usually it completes with the delivery.
        private TaskCompletionSource? _settled;
        private bool _stalled;
        private bool _delivered;

        public WebSocketConnection Connection { get; } = connection;

        /// <summary>The connection attached after this one; guarded by the pump's monitor.</summary>
        public Source? Next { get; set; }

        /// <summary>
        /// Completes when the pump reached the end of the connection's messages (every one delivered), or
        /// gave them up, or when the connection itself ended (<see cref="WatchConnectionEnd"/>), whichever
        /// comes first.
        /// </summary>
        public Task Ended => _ended.Task;

        /// <summary>The connection's teardown completes <see cref="Ended"/> too: one signal for the supervisor to await.</summary>
        public void WatchConnectionEnd() => Connection.SignalOnEnd(_ended);

        /// <summary>
        /// Completes once every message was delivered (or given up), or earlier when the pump waits on this connection for a
        /// handler or reader to appear: what follows the connection (its disconnect) need not wait then.
        /// </summary>
        public Task Settled
        {
            get
            {
                lock (this)
                {
                    if (_stalled || _delivered)
                    {
                        return Task.CompletedTask;
                    }

                    return (_settled ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                }
            }
        }

        public void Complete()
        {
            lock (this)
            {
                _delivered = true;
            }

            _ended.TrySetResult();
            Settle();
        }

        public void Settle()
        {
            TaskCompletionSource? settled;
            lock (this)
            {
                _stalled = true;
                settled = _settled;
            }

            settled?.TrySetResult();
        }
    }
}
