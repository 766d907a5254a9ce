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
    private readonly WebSocketClient _client;
    private readonly ILogger _logger;

    // Null when SlowHandlerThreshold is infinite.
    private readonly DeliveryWatch? _watch;
    // The handlers' token, cancelled by Stop; created with the first delivery.
    private CancellationTokenSource? _stop;

    // The pump's own monitor (lock (this); the type is the client's own) guards everything below; never
    // taken per delivery.
    // The attached connections, oldest first, linked through Source.Next (no queue object for an idle client).
    private Source? _head;
    private Source? _tail;
    private bool _running;
    private bool _stopped;
    private TaskCompletionSource? _idle;
    private TaskCompletionSource? _consumerAdded;
    private bool _waitingForConsumer;

    public MessagePump(WebSocketClient client, TimeProvider time, ILogger logger, TimeSpan slowThreshold)
    {
        _client = client;
        _logger = logger;
        _watch = slowThreshold == Timeout.InfiniteTimeSpan ? null : new DeliveryWatch(time, logger, slowThreshold);
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
        }

        _watch?.Stop();

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
                    _watch?.Waiting();
                    TaskCompletionSource? idle = _idle;
                    _idle = null;
                    idle?.TrySetResult();
                    return;
                }
            }

            // One connection's messages, until its queue ends (or the pump stops); inline, so the loop is
            // one state machine.
            WebSocketConnection connection = source.Connection;

            // Whether the pump waited (or just began) since the last delivery: the slow-delivery watch
            // reads the clock only then, never per message in a flood.
            bool afterWait = true;
            try
            {
                while (!IsStopRequested)
                {
                    if (!_client.HasMessageConsumer())
                    {
                        // Nobody would see the message: it stays in the connection's queue (reading
                        // pauses when that is full) until a handler or reader appears.
                        afterWait = true;
                        _watch?.Waiting();
                        await WaitForConsumerAsync().ConfigureAwait(false);
                        continue;
                    }

                    // Waits on the connection's queue itself rather than in ReceiveMessageAsync, so an idle
                    // client holds no receive call's state.
                    if (!connection.TryReceiveMessage(out WebSocketMessage message))
                    {
                        afterWait = true;
                        _watch?.Waiting();
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

                    _watch?.Begin(afterWait);
                    afterWait = false;
                    await Deliver(message, HandlerToken).ConfigureAwait(false);

                    // Every exception was caught in the delivery: the watch always ends here.
                    _watch?.End();
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

    /// <summary>Delivers one message; never throws. Completes synchronously when the handlers did.</summary>
    private ValueTask Deliver(WebSocketMessage message, CancellationToken token)
    {
        ValueTask delivery;
        try
        {
            delivery = _client.DeliverReceivedAsync(message, token);
        }
#pragma warning disable CA1031 // The delivery reports handler failures itself; anything else must not end the pump.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ReportFailure(ex, token);
            return ValueTask.CompletedTask;
        }

        return delivery.IsCompletedSuccessfully ? ValueTask.CompletedTask : ObserveAsync(delivery, token);
    }

    private async ValueTask ObserveAsync(ValueTask delivery, CancellationToken token)
    {
        try
        {
            await delivery.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // As in Deliver.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            ReportFailure(ex, token);
        }
    }

    private void ReportFailure(Exception ex, CancellationToken token)
    {
        if (ex is OperationCanceledException && token.IsCancellationRequested)
        {
            // The run ended while a handler ran.
            return;
        }

        Log.HandlerFailed(_logger, "message", ex);
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
