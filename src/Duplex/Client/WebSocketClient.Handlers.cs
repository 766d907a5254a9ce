using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Duplex.Connection;
using Duplex.Diagnostics;

namespace Duplex.Client;

public partial class WebSocketClient
{
    // Connect, disconnect and error events, run in order by a dispatcher that exists only while
    // there are events to run (an idle client keeps no parked loop and no channel for them).
    private readonly object _eventsGate = new();
    private Queue<DispatchItem>? _events;
    private bool _dispatching;
    private bool _eventsClosed;
    private Task _dispatcher = Task.CompletedTask;
    private readonly HandlerList<Func<WebSocketClientMessage, CancellationToken, ValueTask>> _messageHandlers = new();
    private readonly HandlerList<Func<WebSocketConnectedContext, CancellationToken, ValueTask>> _connectedHandlers = new();
    private readonly HandlerList<Func<WebSocketDisconnectedContext, CancellationToken, ValueTask>> _disconnectedHandlers = new();
    private readonly HandlerList<Func<Exception, CancellationToken, ValueTask>> _errorHandlers = new();
    private readonly HandlerList<Func<WebSocketGaveUpContext, CancellationToken, ValueTask>> _gaveUpHandlers = new();
    private readonly HandlerList<Channel<WebSocketClientMessage>> _readers = new();
    private bool _streamEnded;

    // Numbers the received messages (on the pump only), so their parsed JSON can be shared without an object per message.
    private readonly WebSocketClientMessage.JsonCache _jsonCache;
    private long _messageSequence;

    private int _overridesOnMessageReceived;

    // Set once the first unobserved handler failure went to standard error.
    private int _unobservedHandlerErrorWritten;

    /// <summary>Where an unobserved handler failure is written; standard error, or a test's writer.</summary>
    internal TextWriter StandardError { get; set; } = Console.Error;

    private enum DispatchKind
    {
        Connected,
        Disconnected,
        Error,
        GaveUp,
        EndOfStream,
    }

    /// <summary>
    /// Registers a handler for every received message (JSON already parsed, see
    /// <see cref="WebSocketClientMessage.Json"/>). Handlers run one at a time, in registration
    /// order, on the client's message pump, never on the socket's receive loop.
    /// </summary>
    /// <remarks>
    /// <para>Nothing is lost by registering late: while no message handler, no
    /// <see cref="ReadAllAsync"/> reader and no <see cref="OnMessageReceivedAsync"/> override is there,
    /// the client takes no message from the connection (they wait in its bounded receive queue, and
    /// reading from the network pauses when that is full). The first consumer to appear gets every
    /// message still waiting, in order; register before connecting (or with
    /// <see cref="CreateConnectedAsync(Uri, Action{WebSocketClient}, IReadOnlyDictionary{string, string}?, WebSocketClientOptions?, CancellationToken)"/>)
    /// to share them from the first.</para>
    /// <para>Each message goes to every handler registered when it is delivered, then to every reader
    /// reading then. A handler or reader that comes later does not see messages delivered before it.</para>
    /// </remarks>
    /// <param name="handler">The handler; its exception is logged and reported to the error handlers.</param>
    /// <returns>Dispose to unregister.</returns>
    public IDisposable OnMessage(Func<WebSocketClientMessage, CancellationToken, ValueTask> handler)
    {
        IDisposable registration = _messageHandlers.Add(handler);
        OnMessageConsumerAdded();
        return registration;
    }

    /// <summary>
    /// Registers a handler for every (re)connect; <see cref="WebSocketConnectedContext.IsReconnect"/>
    /// tells them apart. Connect handlers run to completion before the outbox drains, so what they
    /// send goes first. They must not wait for incoming messages (those are dispatched after them).
    /// </summary>
    /// <param name="handler">The handler.</param>
    /// <returns>Dispose to unregister.</returns>
    public IDisposable OnConnected(Func<WebSocketConnectedContext, CancellationToken, ValueTask> handler) => _connectedHandlers.Add(handler);

    /// <summary>Registers a handler for every lost or closed connection: close code, reason, cause, and whether a reconnect follows.</summary>
    /// <param name="handler">The handler.</param>
    /// <returns>Dispose to unregister.</returns>
    public IDisposable OnDisconnected(Func<WebSocketDisconnectedContext, CancellationToken, ValueTask> handler) => _disconnectedHandlers.Add(handler);

    /// <summary>
    /// Registers a handler for the client giving up reconnecting by itself (see <see cref="HasGivenUp"/>);
    /// raised once per give-up, after the disconnect handlers and any error handlers of failed attempts.
    /// </summary>
    /// <param name="handler">The handler.</param>
    /// <returns>Dispose to unregister.</returns>
    public IDisposable OnGaveUp(Func<WebSocketGaveUpContext, CancellationToken, ValueTask> handler) => _gaveUpHandlers.Add(handler);

    /// <summary>Registers a handler for errors: failed reconnect attempts and exceptions thrown by other handlers.</summary>
    /// <param name="handler">The handler.</param>
    /// <returns>Dispose to unregister.</returns>
    public IDisposable OnError(Func<Exception, CancellationToken, ValueTask> handler) => _errorHandlers.Add(handler);

    /// <summary>
    /// The received messages as an async stream, alongside the handlers (each message reaches both:
    /// the handlers first, then every reader). A reader takes part from its first <c>MoveNextAsync</c>
    /// and sees every message not yet delivered then: while no handler and no reader is there, messages
    /// wait in the connection, so a reader started late misses nothing (one started after a handler
    /// took a message does not see that one). Ends when the client closes or stops reconnecting;
    /// reconnects do not end it. While the reader is behind, reading from the network pauses.
    /// </summary>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    public async IAsyncEnumerable<WebSocketClientMessage> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateBounded<WebSocketClientMessage>(new BoundedChannelOptions(_options.ReaderQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using IDisposable registration = _readers.Add(channel);
        OnMessageConsumerAdded();
        if (Volatile.Read(ref _streamEnded))
        {
            // The client already closed (or gave up): there is nothing more to read.
            yield break;
        }

        await foreach (WebSocketClientMessage message in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return message;
        }
    }

    /// <summary>
    /// Called for every received message, on the message pump. The base invokes the registered message
    /// handlers in order; override to count, filter or react, and call the base to keep them.
    /// </summary>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancelled when the client closes (at the end of the close timeout, if still running) or is disposed.</param>
    protected virtual ValueTask OnMessageReceivedAsync(WebSocketClientMessage message, CancellationToken cancellationToken)
    {
        // Handlers that complete synchronously (the common case) cost no async state machine.
        Func<WebSocketClientMessage, CancellationToken, ValueTask>[] handlers = _messageHandlers.Snapshot;
        for (int i = 0; i < handlers.Length; i++)
        {
            ValueTask pending;
            try
            {
                pending = handlers[i](message, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
#pragma warning disable CA1031 // A handler's exception is reported, never allowed to stop the client.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                return InvokeMessageHandlersSlowAsync(handlers, i, default, ex, message, cancellationToken);
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return InvokeMessageHandlersSlowAsync(handlers, i, pending, null, message, cancellationToken);
            }

            pending.GetAwaiter().GetResult();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Called after every (re)connect, before the outbox drains. The base invokes the connect handlers.</summary>
    /// <param name="context">About the connection.</param>
    /// <param name="cancellationToken">Cancelled when the client is disposed.</param>
    protected virtual async ValueTask OnConnectedAsync(WebSocketConnectedContext context, CancellationToken cancellationToken)
    {
        foreach (Func<WebSocketConnectedContext, CancellationToken, ValueTask> handler in _connectedHandlers.Snapshot)
        {
            await InvokeIsolatedAsync(handler, context, "connect", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Called when a connection ends. The base invokes the disconnect handlers.</summary>
    /// <param name="context">How it ended and what happens next.</param>
    /// <param name="cancellationToken">Cancelled when the client is disposed.</param>
    protected virtual async ValueTask OnDisconnectedAsync(WebSocketDisconnectedContext context, CancellationToken cancellationToken)
    {
        foreach (Func<WebSocketDisconnectedContext, CancellationToken, ValueTask> handler in _disconnectedHandlers.Snapshot)
        {
            await InvokeIsolatedAsync(handler, context, "disconnect", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Called once when the client gives up reconnecting by itself. The base invokes the give-up handlers.</summary>
    /// <param name="context">Why.</param>
    /// <param name="cancellationToken">Cancelled when the client is disposed.</param>
    protected virtual async ValueTask OnGaveUpAsync(WebSocketGaveUpContext context, CancellationToken cancellationToken)
    {
        foreach (Func<WebSocketGaveUpContext, CancellationToken, ValueTask> handler in _gaveUpHandlers.Snapshot)
        {
            await InvokeIsolatedAsync(handler, context, "give-up", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Called for errors (failed reconnects, failing handlers). The base invokes the error handlers.</summary>
    /// <param name="error">The error.</param>
    /// <param name="cancellationToken">Cancelled when the client is disposed.</param>
    protected virtual async ValueTask OnErrorAsync(Exception error, CancellationToken cancellationToken)
    {
        foreach (Func<Exception, CancellationToken, ValueTask> handler in _errorHandlers.Snapshot)
        {
            try
            {
                await handler(error, cancellationToken).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // An error handler's own failure can only be logged.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                Log.HandlerFailed(Logger, "error", ex);
                WriteUnobservedHandlerError("error", ex);
            }
        }
    }

    /// <summary>
    /// The rest of <see cref="OnMessageReceivedAsync"/> once handler <paramref name="index"/> went
    /// asynchronous (<paramref name="pending"/>) or threw (<paramref name="failure"/>).
    /// </summary>
    private async ValueTask InvokeMessageHandlersSlowAsync(
        Func<WebSocketClientMessage, CancellationToken, ValueTask>[] handlers, int index, ValueTask pending, Exception? failure, WebSocketClientMessage message, CancellationToken cancellationToken)
    {
        failure ??= await CatchHandlerFailureAsync(pending, cancellationToken).ConfigureAwait(false);
        if (failure is not null)
        {
            await ReportMessageHandlerFailureAsync(failure, cancellationToken).ConfigureAwait(false);
        }

        for (int i = index + 1; i < handlers.Length; i++)
        {
            await InvokeIsolatedAsync(handlers[i], message, "message", cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Awaits work a handler (or an override) left pending and returns its exception, to be reported;
    /// a cancellation by <paramref name="cancellationToken"/> (the client being disposed) passes through.
    /// </summary>
    private static async ValueTask<Exception?> CatchHandlerFailureAsync(ValueTask pending, CancellationToken cancellationToken)
    {
        try
        {
            await pending.ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // A handler's exception is reported, never allowed to stop the client.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ex;
        }
    }

    private ValueTask ReportMessageHandlerFailureAsync(Exception failure, CancellationToken cancellationToken) =>
        ReportHandlerFailureAsync("message", failure, cancellationToken);

    /// <summary>A handler threw: logged, handed to <see cref="OnErrorAsync"/>, and never invisible.</summary>
    private async ValueTask ReportHandlerFailureAsync(string eventName, Exception failure, CancellationToken cancellationToken)
    {
        Log.HandlerFailed(Logger, eventName, failure);
        WriteUnobservedHandlerError(eventName, failure);
        await OnErrorAsync(failure, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// When nothing would show a handler's failure — no error handler, no <see cref="OnErrorAsync"/>
    /// override, no logger enabled for Error — writes the client's first such failure to standard error.
    /// </summary>
    private void WriteUnobservedHandlerError(string eventName, Exception failure)
    {
        if (!_options.WriteUnobservedHandlerErrors ||
            _errorHandlers.Snapshot.Length != 0 ||
            Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Error) ||
            OverridesOnError() ||
            Interlocked.Exchange(ref _unobservedHandlerErrorWritten, 1) != 0)
        {
            return;
        }

        string client = _uri is null ? "a WebSocketClient" : $"the WebSocketClient for {Redaction.Uri(_uri)}";
        try
        {
            StandardError.WriteLine(
                $"Duplex: a {eventName} handler of {client} threw {failure.GetType().FullName}: {failure.Message} " +
                "Register an OnError handler or set WebSocketClientOptions.Logger to see handler failures " +
                "(this line is written once per client; WriteUnobservedHandlerErrors = false turns it off).");
        }
        catch (IOException)
        {
            // Standard error is gone; there is nowhere left to say it.
        }
        catch (ObjectDisposedException)
        {
            // Same.
        }
    }

    /// <summary>Whether anything takes messages: a message handler, a reader, or an <see cref="OnMessageReceivedAsync"/> override.</summary>
    internal bool HasMessageConsumer() =>
        _messageHandlers.Snapshot.Length != 0 || _readers.Snapshot.Length != 0 || OverridesOnMessageReceived();

    private bool OverridesOnMessageReceived()
    {
        // Asked before every message while nothing else consumes: the answer is kept (0 unknown, 1 no, 2 yes).
        int known = Volatile.Read(ref _overridesOnMessageReceived);
        if (known == 0)
        {
            Func<WebSocketClientMessage, CancellationToken, ValueTask> onMessage = OnMessageReceivedAsync;
            known = onMessage.Method.DeclaringType != typeof(WebSocketClient) ? 2 : 1;
            Volatile.Write(ref _overridesOnMessageReceived, known);
        }

        return known == 2;
    }

    /// <summary>Wakes a pump that waits for a consumer.</summary>
    private void OnMessageConsumerAdded()
    {
        MessagePump? pump;
        lock (_lock)
        {
            pump = _pump;
        }

        pump?.OnConsumerAdded();
    }

    /// <summary>Whether a subclass overrides <see cref="OnErrorAsync"/>, and so sees every failure itself.</summary>
    private bool OverridesOnError()
    {
        Func<Exception, CancellationToken, ValueTask> onError = OnErrorAsync;
        return onError.Method.DeclaringType != typeof(WebSocketClient);
    }

    private async ValueTask InvokeIsolatedAsync<T>(Func<T, CancellationToken, ValueTask> handler, T argument, string eventName, CancellationToken cancellationToken)
    {
        try
        {
            await handler(argument, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // A handler's exception is reported, never allowed to stop the client.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            await ReportHandlerFailureAsync(eventName, ex, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Queues an event for the dispatcher, starting one when none is running. After the client shut
    /// down nobody is listening any more: the event is dropped and a waiting caller released.
    /// </summary>
    private ValueTask PostAsync(DispatchItem item)
    {
        lock (_eventsGate)
        {
            if (!_eventsClosed)
            {
                (_events ??= new Queue<DispatchItem>()).Enqueue(item);
                if (!_dispatching)
                {
                    _dispatching = true;
                    _dispatcher = Task.Run(DispatchEventsAsync);
                }

                return ValueTask.CompletedTask;
            }
        }

        item.Done?.TrySetResult();
        return ValueTask.CompletedTask;
    }

    /// <summary>Accepts one last event (the end of the stream) and no more after it.</summary>
    private void CloseEvents(DispatchItem last)
    {
        _ = PostAsync(last);
        lock (_eventsGate)
        {
            _eventsClosed = true;
        }
    }

    /// <summary>The dispatcher that is running now, if any (completed when none is).</summary>
    private Task CurrentDispatcher
    {
        get
        {
            lock (_eventsGate)
            {
                return _dispatcher;
            }
        }
    }

    private ValueTask RaiseErrorAsync(Exception error) => PostAsync(new DispatchItem(DispatchKind.Error, error, null, null, null));

    /// <summary>Reports a connection's end; its handlers run once <paramref name="after"/> completes (the connection's messages were delivered).</summary>
    private async ValueTask RaiseDisconnectedAsync(ConnectionEnd end, bool closedByApplication, bool willReconnect, TimeSpan? delay, Task after)
    {
        // A close the application asked for is routine; a loss is worth a warning.
        Log.ClientDisconnected(Logger, closedByApplication ? Microsoft.Extensions.Logging.LogLevel.Information : Microsoft.Extensions.Logging.LogLevel.Warning, Redaction.Uri(_attemptUri ?? _uri!), Log.Shown(end.CloseStatus), Log.Shown(end.Description), willReconnect, end.Exception);
        var context = new WebSocketDisconnectedContext(end.CloseStatus, end.Description, end.Exception, closedByApplication, willReconnect, delay);
        await PostAsync(new DispatchItem(DispatchKind.Disconnected, context, null, null, after)).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the queued events' handlers one at a time and in order, then ends; the next event starts
    /// a new run. Separate from the socket's receive loop, so a slow handler only pauses reading.
    /// A disconnect waits until the pump has delivered its connection's messages, so handlers see a
    /// connection's messages before its end (and the next connection's connect after both).
    /// </summary>
    private async Task DispatchEventsAsync()
    {
        CancellationToken token = _lifetime.Token;
        while (true)
        {
            DispatchItem item;
            lock (_eventsGate)
            {
                if (_events is null || !_events.TryDequeue(out item))
                {
                    // Nothing left to run: an idle client keeps neither the queue nor a finished task.
                    _dispatching = false;
                    _dispatcher = Task.CompletedTask;
                    _events = null;
                    return;
                }
            }

            try
            {
                if (item.After is { } after)
                {
                    await after.ConfigureAwait(false);
                }

                await DispatchAsync(item, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                // Disposed while a handler ran.
            }
#pragma warning disable CA1031 // An override that throws is reported like a failing handler.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (item.Kind != DispatchKind.Error)
                {
                    await ReportHandlerFailureAsync(item.Kind.ToString(), ex, token).ConfigureAwait(false);
                }
                else
                {
                    Log.HandlerFailed(Logger, item.Kind.ToString(), ex);
                    WriteUnobservedHandlerError(item.Kind.ToString(), ex);
                }
            }
            finally
            {
                item.Done?.TrySetResult();
            }
        }
    }

    private async ValueTask DispatchAsync(DispatchItem item, CancellationToken token)
    {
        switch (item.Kind)
        {
            case DispatchKind.Connected:
                // Sends from the connect handlers (and whatever they call) bypass the outbox.
                s_handlerConnection.Value = item.Connection;
                try
                {
                    await OnConnectedAsync((WebSocketConnectedContext)item.Payload!, token).ConfigureAwait(false);
                }
                finally
                {
                    s_handlerConnection.Value = null;
                }

                break;
            case DispatchKind.Disconnected:
                await OnDisconnectedAsync((WebSocketDisconnectedContext)item.Payload!, token).ConfigureAwait(false);
                break;
            case DispatchKind.Error:
                await OnErrorAsync((Exception)item.Payload!, token).ConfigureAwait(false);
                break;
            case DispatchKind.GaveUp:
                await OnGaveUpAsync((WebSocketGaveUpContext)item.Payload!, token).ConfigureAwait(false);
                break;
            case DispatchKind.EndOfStream:
                Volatile.Write(ref _streamEnded, true);
                CompleteReaders();
                break;
        }
    }

    /// <summary>What the pump delivers: a connection's message, as the handlers see it.</summary>
    internal ValueTask DeliverReceivedAsync(WebSocketMessage message, CancellationToken token)
    {
        DuplexTelemetry.MessagesReceived.Add(1);
        DuplexTelemetry.BytesReceived.Add(message.Text is { } t ? t.Length : message.Data.Length);
        return DeliverAsync(new WebSocketClientMessage(message.MessageType, message.Text, message.Data, _jsonCache, ++_messageSequence), token);
    }

    /// <summary>
    /// Hands one received message to the handlers and the <see cref="ReadAllAsync"/> readers. Runs on
    /// the client's message pump — never on the socket's receive loop — and, while handlers return,
    /// never at the same time as the dispatcher: a connection's messages go to the pump once its
    /// connect handlers have run, its disconnect is dispatched once they were delivered.
    /// </summary>
    private ValueTask DeliverAsync(WebSocketClientMessage message, CancellationToken token)
    {
        if (Logger.IsEnabled(Microsoft.Extensions.Logging.LogLevel.Trace))
        {
            Log.MessageReceived(Logger, message.MessageType, message.ToString());
        }

        ValueTask handled;
        try
        {
            handled = OnMessageReceivedAsync(message, token);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return ValueTask.CompletedTask;
        }
#pragma warning disable CA1031 // An override that throws is reported like a failing handler.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return DeliverSlowAsync(message, default, ex, token);
        }

        if (handled.IsCompletedSuccessfully && _readers.Snapshot.Length == 0)
        {
            // Handled synchronously and nobody reads with ReadAllAsync: no async state machine at all.
            handled.GetAwaiter().GetResult();
            return ValueTask.CompletedTask;
        }

        return DeliverSlowAsync(message, handled, null, token);
    }

    private async ValueTask DeliverSlowAsync(WebSocketClientMessage message, ValueTask handled, Exception? failure, CancellationToken token)
    {
        try
        {
            failure ??= await CatchHandlerFailureAsync(handled, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return;
        }

        if (failure is not null)
        {
            await ReportMessageHandlerFailureAsync(failure, token).ConfigureAwait(false);
        }

        foreach (Channel<WebSocketClientMessage> channel in _readers.Snapshot)
        {
            try
            {
                await channel.Writer.WriteAsync(message, token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
            {
                // That reader stopped reading, or the client is being disposed.
            }
        }
    }

    private void CompleteReaders()
    {
        foreach (Channel<WebSocketClientMessage> channel in _readers.Snapshot)
        {
            channel.Writer.TryComplete();
        }
    }

    private readonly record struct DispatchItem(DispatchKind Kind, object? Payload, TaskCompletionSource? Done, WebSocketConnection? Connection, Task? After);
}
