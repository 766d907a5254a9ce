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

    private readonly Func<WebSocketMessage, CancellationToken, ValueTask> _deliver;
    private readonly Func<bool> _hasConsumer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TimeSpan _slowThreshold;
    private readonly CancellationTokenSource _stop = new();

    // Guards everything below; taken twice per delivery when slow deliveries are watched.
    private readonly object _gate = new();
    private readonly Queue<Source> _sources = new();
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

    public MessagePump(Func<WebSocketMessage, CancellationToken, ValueTask> deliver, Func<bool> hasConsumer, TimeProvider time, ILogger logger, TimeSpan slowThreshold)
    {
        _deliver = deliver;
        _hasConsumer = hasConsumer;
        _time = time;
        _logger = logger;
        _slowThreshold = slowThreshold;
    }

    /// <summary>Queues <paramref name="source"/>'s connection behind those already attached; its messages follow theirs.</summary>
    public void Attach(Source source)
    {
        lock (_gate)
        {
            if (!_stopped)
            {
                _sources.Enqueue(source);
                if (!_running)
                {
                    _running = true;
                    _ = Task.Run(RunAsync);
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
        lock (_gate)
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
        lock (_gate)
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
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            abandoned = [.. _sources];
            _sources.Clear();
            idle = _idle;
            _idle = null;
            added = _consumerAdded;
            _consumerAdded = null;
            _watch?.Dispose();
            _watch = null;
        }

        try
        {
            _stop.Cancel();
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

    private async Task RunAsync()
    {
        CancellationToken token = _stop.Token;
        while (true)
        {
            Source? source;
            lock (_gate)
            {
                if (_stopped)
                {
                    return;
                }

                if (!_sources.TryPeek(out source))
                {
                    _running = false;
                    TaskCompletionSource? idle = _idle;
                    _idle = null;
                    idle?.TrySetResult();
                    return;
                }
            }

            await PumpAsync(source.Connection, token).ConfigureAwait(false);
            lock (_gate)
            {
                if (_stopped)
                {
                    // Stop released the sources already.
                    return;
                }

                _sources.Dequeue();
            }

            source.Complete();
        }
    }

    /// <summary>Delivers <paramref name="connection"/>'s messages until its queue ends (or the pump stops).</summary>
    private async Task PumpAsync(WebSocketConnection connection, CancellationToken token)
    {
        try
        {
            while (!token.IsCancellationRequested)
            {
                if (!_hasConsumer())
                {
                    // Nobody would see the message: it stays in the connection's queue (reading
                    // pauses when that is full) until a handler or reader appears.
                    await WaitForConsumerAsync().ConfigureAwait(false);
                    continue;
                }

                // Waits on the connection's queue itself rather than in ReceiveMessageAsync, so an idle
                // client holds no receive call's state.
                if (!connection.TryReceiveMessage(out WebSocketMessage message))
                {
                    if (await connection.WaitForMessagesAsync().ConfigureAwait(false))
                    {
                        continue;
                    }

                    message = connection.MessageAfterEnd();
                }

                if (message.IsClose)
                {
                    return;
                }

                await DeliverAsync(message, token).ConfigureAwait(false);
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
    }

    private Task WaitForConsumerAsync()
    {
        TaskCompletionSource added;
        TaskCompletionSource? idle;
        Source? stalled;
        lock (_gate)
        {
            if (_stopped || _hasConsumer())
            {
                return Task.CompletedTask;
            }

            added = _consumerAdded ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waitingForConsumer = true;

            // Nothing can be delivered until someone consumes: a close need not wait for the pump,
            // nor the events that follow the connection (its disconnect) for its messages.
            idle = _idle;
            _idle = null;
            stalled = _sources.TryPeek(out Source? current) ? current : null;
        }

        idle?.TrySetResult();
        stalled?.Settle();
        return added.Task;
    }

    private async ValueTask DeliverAsync(WebSocketMessage message, CancellationToken token)
    {
        bool watched = _slowThreshold != Timeout.InfiniteTimeSpan;
        long started = watched ? StartWatch() : 0;
        try
        {
            await _deliver(message, token).ConfigureAwait(false);
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
        finally
        {
            if (watched)
            {
                EndWatch(started);
            }
        }
    }

    private long StartWatch()
    {
        long now = _time.GetTimestamp();
        lock (_gate)
        {
            _deliveryNumber++;
            _deliveryStart = now;
            if (!_watchArmed && !_stopped)
            {
                // Checked four times per threshold, so a slow delivery is noticed at most a quarter late.
                TimeSpan period = _slowThreshold / 4;
                _watch ??= _time.CreateTimer(static state => ((MessagePump)state!).CheckSlowDelivery(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _watch.Change(period, period);
                _watchArmed = true;
            }
        }

        return now;
    }

    private void EndWatch(long started)
    {
        TimeSpan took = _time.GetElapsedTime(started);
        lock (_gate)
        {
            _deliveryStart = NoDelivery;
        }

        if (took >= _slowThreshold)
        {
            Log.SlowMessageHandlerReturned(_logger, took, _slowThreshold);
        }
    }

    /// <summary>The watch's tick: reports a delivery over the threshold once; disarms itself while the pump is idle.</summary>
    private void CheckSlowDelivery()
    {
        TimeSpan elapsed;
        lock (_gate)
        {
            if (_deliveryStart == NoDelivery)
            {
                // No delivery in progress: an idle pump keeps no ticking timer.
                _watch?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                _watchArmed = false;
                return;
            }

            elapsed = _time.GetElapsedTime(_deliveryStart);
            if (elapsed < _slowThreshold || _reportedNumber == _deliveryNumber)
            {
                return;
            }

            _reportedNumber = _deliveryNumber;
        }

        Log.SlowMessageHandler(_logger, elapsed, _slowThreshold);
    }

    /// <summary>One connection whose messages the pump delivers.</summary>
    internal sealed class Source(WebSocketConnection connection)
    {
        private readonly TaskCompletionSource _delivered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _settled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public WebSocketConnection Connection { get; } = connection;

        /// <summary>Completes when the pump reached the end of the connection's messages (every one delivered), or gave them up.</summary>
        public Task Delivered => _delivered.Task;

        /// <summary>
        /// Completes with <see cref="Delivered"/>, or earlier when the pump waits on this connection for a
        /// handler or reader to appear: what follows the connection (its disconnect) need not wait then.
        /// </summary>
        public Task Settled => _settled.Task;

        public void Complete()
        {
            _delivered.TrySetResult();
            _settled.TrySetResult();
        }

        public void Settle() => _settled.TrySetResult();
    }
}
