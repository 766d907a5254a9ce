using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Duplex.Connection;
using Duplex.Connection.Send;
using Duplex.Diagnostics;

namespace Duplex.Client;

public partial class WebSocketClient
{
    // True once a connection is open and the outbox has drained into it: sends then go straight to
    // the connection. False while connecting, reconnecting, and while connect handlers and the
    // outbox drain run, so that order is kept.
    private bool _sendDirect;

    // The same, published for the send fast path, which reads it without the lock: the connection
    // while _sendDirect holds and the client is neither closing, given up nor disposed; else null.
    private volatile WebSocketConnection? _directConnection;
    private TaskCompletionSource? _drained;

    /// <summary>
    /// Sends a text message. Completes when the message has been handed to a connection; while the
    /// client reconnects it waits in the outbox.
    /// </summary>
    /// <param name="text">The text.</param>
    /// <param name="cancellationToken">Removes the message from the outbox if it is still waiting there.</param>
    /// <exception cref="WebSocketClosedException">The client is closed, or stopped reconnecting.</exception>
    /// <exception cref="WebSocketOutboxFullException">The outbox is full and its policy is to fail.</exception>
    /// <exception cref="WebSocketMessageDroppedException">The outbox dropped the message, or the client closed before sending it.</exception>
    /// <exception cref="InvalidOperationException">The client was never connected.</exception>
    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return SendCoreAsync(WebSocketMessageType.Text, text, default, cancellationToken);
    }

    /// <summary>Sends a binary message; see <see cref="SendTextAsync"/> for when it completes.</summary>
    /// <param name="data">The bytes; not used after the returned task completes.</param>
    /// <param name="cancellationToken">Removes the message from the outbox if it is still waiting there.</param>
    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        SendCoreAsync(WebSocketMessageType.Binary, null, data, cancellationToken);

    /// <summary>Sends <paramref name="value"/> as a JSON text message, with source-generated metadata (trimming and AOT safe).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">What to send.</param>
    /// <param name="jsonTypeInfo">The metadata, e.g. <c>MyContext.Default.MyType</c>.</param>
    /// <param name="cancellationToken">Removes the message from the outbox if it is still waiting there.</param>
    public ValueTask SendJsonAsync<T>(T value, JsonTypeInfo<T> jsonTypeInfo, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        return SendJsonCoreAsync(jsonTypeInfo.Options, (value, jsonTypeInfo), static (writer, state) => JsonSerializer.Serialize(writer, state.value, state.jsonTypeInfo), cancellationToken);
    }

    /// <summary>Sends <paramref name="value"/> as a JSON text message with the client's serializer options (web defaults unless set).</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">What to send.</param>
    /// <param name="cancellationToken">Removes the message from the outbox if it is still waiting there.</param>
    [RequiresUnreferencedCode("Reflection-based JSON; use the JsonTypeInfo overload for trimming and AOT.")]
    [RequiresDynamicCode("Reflection-based JSON; use the JsonTypeInfo overload for trimming and AOT.")]
    public ValueTask SendJsonAsync<T>(T value, CancellationToken cancellationToken) =>
        SendJsonAsync(value, options: null, cancellationToken);

    /// <summary>Sends <paramref name="value"/> as a JSON text message, using reflection-based serialization.</summary>
    /// <typeparam name="T">The value's type.</typeparam>
    /// <param name="value">What to send.</param>
    /// <param name="options">Serializer options; null for <see cref="WebSocketClientOptions.JsonSerializerOptions"/>, whose default is <see cref="JsonSerializerOptions.Web"/>.</param>
    /// <param name="cancellationToken">Removes the message from the outbox if it is still waiting there.</param>
    [RequiresUnreferencedCode("Reflection-based JSON; use the JsonTypeInfo overload for trimming and AOT.")]
    [RequiresDynamicCode("Reflection-based JSON; use the JsonTypeInfo overload for trimming and AOT.")]
    public ValueTask SendJsonAsync<T>(T value, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= _options.JsonSerializerOptions ?? JsonSerializerOptions.Web;
        return SendJsonCoreAsync(options, (value, options), static (writer, state) => JsonSerializer.Serialize(writer, state.value, state.options), cancellationToken);
    }

    /// <summary>Serializes into this thread's pooled JSON buffer and sends the bytes as a text message.</summary>
    private ValueTask SendJsonCoreAsync<TState>(JsonSerializerOptions options, TState state, Action<Utf8JsonWriter, TState> serialize, CancellationToken cancellationToken)
    {
        JsonMessageBuffer json = JsonMessageBuffer.Rent(options);
        try
        {
            serialize(json.Writer, state);
        }
        catch
        {
            json.Return();
            throw;
        }

        return SendCoreAsync(WebSocketMessageType.Text, null, json.WrittenMemory, cancellationToken, json);
    }

    /// <summary>
    /// Sends a message. <paramref name="pooledJson"/>, when given, holds <paramref name="data"/> and is
    /// returned once the connection has copied the bytes; a message that goes to the outbox gets an
    /// array of its own first, since it may outlive the call (the drop callback sees it).
    /// </summary>
    private ValueTask SendCoreAsync(WebSocketMessageType type, string? text, ReadOnlyMemory<byte> data, CancellationToken cancellationToken, JsonMessageBuffer? pooledJson = null)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            pooledJson?.Return();
            return ValueTask.FromCanceled(cancellationToken);
        }

        // The common case — connected, outbox drained — goes straight to the connection, without the
        // lock or an async state machine. A send racing a disconnect either reaches the dying
        // connection (which hands unwritten messages back for the next one) or fails and takes the
        // outbox path, like anything that does not complete at once.
        // (Whether the caller is a connect handler does not matter here: while the outbox is drained
        // its sends go straight to the connection too.)
        WebSocketConnection? direct = _directConnection;
        if (direct is not null)
        {
            ValueTask send = text is not null ? direct.SendTextAsync(text, cancellationToken) : direct.SendAsync(data, type, cancellationToken);
            if (send.IsCompletedSuccessfully)
            {
                send.GetAwaiter().GetResult();
                CountSent(text, data);
                pooledJson?.Return();
                return ValueTask.CompletedTask;
            }

            return FinishDirectSendAsync(direct, send, type, text, data, cancellationToken, pooledJson);
        }

        return SendThroughOutboxAsync(type, text, OwnCopy(data, pooledJson), cancellationToken);
    }

    /// <summary>A direct send that did not complete at once; if its connection died under it, the message goes the full way.</summary>
    private async ValueTask FinishDirectSendAsync(WebSocketConnection direct, ValueTask send, WebSocketMessageType type, string? text, ReadOnlyMemory<byte> data, CancellationToken cancellationToken, JsonMessageBuffer? pooledJson)
    {
        try
        {
            await send.ConfigureAwait(false);
            CountSent(text, data);
            pooledJson?.Return();
            return;
        }
        catch (WebSocketClosedException) when (StopSendingTo(direct))
        {
            // The connection died under this send: it goes to the outbox for the next one.
            data = OwnCopy(data, pooledJson);
        }
        catch
        {
            pooledJson?.Return();
            throw;
        }

        await SendThroughOutboxAsync(type, text, data, cancellationToken, direct).ConfigureAwait(false);
    }

    /// <summary>The bytes in an array of their own when they are in a pooled JSON buffer, which goes back.</summary>
    private static ReadOnlyMemory<byte> OwnCopy(ReadOnlyMemory<byte> data, JsonMessageBuffer? pooledJson)
    {
        if (pooledJson is null)
        {
            return data;
        }

        byte[] copy = data.ToArray();
        pooledJson.Return();
        return copy;
    }

    /// <summary>
    /// The send that waits: straight into the connection while the outbox is drained, otherwise into
    /// the outbox. <paramref name="dead"/> is a connection this send already found dead; it is never
    /// tried again, so a send meets each dead connection once and never loops on it.
    /// </summary>
    private async ValueTask SendThroughOutboxAsync(WebSocketMessageType type, string? text, ReadOnlyMemory<byte> data, CancellationToken cancellationToken, WebSocketConnection? dead = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        OutboxItem? item = null;
        while (true)
        {
            WebSocketConnection? direct = null;
            OutboxItem? dropped = null;
            Task? space = null;
            lock (_lock)
            {
                ThrowIfCannotSendLocked();
                WebSocketConnection? inHandler = s_handlerConnection.Value;
                if (inHandler is not null && inHandler == _connection && inHandler != dead)
                {
                    // A connect handler's sends go first, ahead of the outbox.
                    direct = inHandler;
                }
                else if (_sendDirect && _connection is not null && _connection != dead && _outbox.Count == 0)
                {
                    direct = _connection;
                }
                else
                {
                    item ??= new OutboxItem(type, text, data);
                    if (!_outbox.IsFull)
                    {
                        _outbox.Add(item);
                    }
                    else if (_options.OutboxOverflow == OutboxOverflowPolicy.Fail)
                    {
                        throw new WebSocketOutboxFullException($"The outbox is full ({_options.OutboxCapacity} messages); the message was not queued.");
                    }
                    else if (_options.OutboxOverflow == OutboxOverflowPolicy.DropOldest)
                    {
                        dropped = _outbox.TakeFirst();
                        _outbox.Add(item);
                    }
                    else
                    {
                        space = _outbox.WaitForSpaceAsync();
                    }
                }
            }

            if (dropped is not null)
            {
                Drop(dropped, "the outbox was full and dropped its oldest message");
            }

            if (direct is not null)
            {
                try
                {
                    await SendOnAsync(direct, type, text, data, cancellationToken).ConfigureAwait(false);
                    return;
                }
                catch (WebSocketClosedException) when (StopSendingTo(direct))
                {
                    // The connection died under this send: it goes to the outbox for the next one.
                    dead = direct;
                    continue;
                }
            }

            if (space is not null)
            {
                await space.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            break;
        }

        // Cancelling removes the message only while it still waits; once a connection took it, it goes out.
        item!.Cancellation = cancellationToken.UnsafeRegister(
            static (state, token) =>
            {
                var (client, queued) = ((WebSocketClient, OutboxItem))state!;
                bool removed;
                lock (client._lock)
                {
                    removed = client._outbox.Remove(queued);
                }

                if (removed)
                {
                    queued.Completion.TrySetCanceled(token);
                }
            },
            (this, item));
        try
        {
            await item.Completion.Task.ConfigureAwait(false);
        }
        finally
        {
            await item.Cancellation.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void ThrowIfCannotSendLocked()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_phase is ClientPhase.Closing or ClientPhase.Closed)
        {
            throw new WebSocketClosedException("The client is closed; nothing more can be sent.", null, null, closedByPeer: false);
        }

        if (_phase == ClientPhase.GaveUp)
        {
            throw new WebSocketClosedException("The client stopped reconnecting; nothing more can be sent.", null, null, closedByPeer: true);
        }

        if (_phase == ClientPhase.Idle)
        {
            throw new InvalidOperationException("The client is not connected; call ConnectAsync first.");
        }
    }

    /// <summary>
    /// A send found <paramref name="dead"/> failed. Until the supervisor has seen the end (it may be
    /// waiting for a thread, or for a handler), sends stop going straight to it: they queue in the
    /// outbox at once instead of each meeting the dead connection. Returns whether a next connection
    /// may take the message.
    /// </summary>
    private bool StopSendingTo(WebSocketConnection dead)
    {
        lock (_lock)
        {
            if (_connection == dead)
            {
                _sendDirect = false;
                _directConnection = null;
            }

            return _phase == ClientPhase.Running && !_disposed && _options.Reconnect.Enabled;
        }
    }

    private static async ValueTask SendOnAsync(WebSocketConnection connection, WebSocketMessageType type, string? text, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (text is not null)
        {
            await connection.SendTextAsync(text, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await connection.SendAsync(data, type, cancellationToken).ConfigureAwait(false);
        }

        CountSent(text, data);
    }

    private static void CountSent(string? text, ReadOnlyMemory<byte> data)
    {
        DuplexTelemetry.MessagesSent.Add(1);
        DuplexTelemetry.BytesSent.Add(text?.Length ?? data.Length);
    }

    /// <summary>
    /// Sends what waited in the outbox, oldest first, into a new connection; then lets sends go
    /// straight through. If the connection dies meanwhile, the message in hand goes back to the head.
    /// </summary>
    private async Task DrainOutboxAsync(WebSocketConnection connection)
    {
        while (true)
        {
            OutboxItem? item;
            TaskCompletionSource? drained = null;
            lock (_lock)
            {
                if (_connection != connection)
                {
                    return;
                }

                item = _outbox.TakeFirst();
                if (item is null)
                {
                    _sendDirect = true;
                    if (_phase == ClientPhase.Running && !_disposed)
                    {
                        _directConnection = connection;
                    }

                    drained = _drained;
                    _drained = null;
                }
            }

            if (item is null)
            {
                drained?.TrySetResult();
                return;
            }

            try
            {
                await SendOnAsync(connection, item.MessageType, item.SentText, item.Data, CancellationToken.None).ConfigureAwait(false);
                item.Completion.TrySetResult();
            }
            catch (WebSocketClosedException)
            {
                lock (_lock)
                {
                    _outbox.AddFirst(item);
                }

                return;
            }
#pragma warning disable CA1031 // Any other failure belongs to that one message's sender.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (item.HasSender)
                {
                    item.Completion.TrySetException(ex);
                }
                else
                {
                    Drop(item, ex.Message);
                }
            }
        }
    }

    /// <summary>Completes when the outbox has drained into <paramref name="connection"/>.</summary>
    private Task WaitOutboxDrainedAsync(WebSocketConnection connection, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_connection != connection || (_sendDirect && _outbox.Count == 0))
            {
                return Task.CompletedTask;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _drained.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Fails every message still waiting, reporting each one.</summary>
    private void FailOutbox(string reason)
    {
        List<OutboxItem> unsent;
        lock (_lock)
        {
            unsent = _outbox.TakeAll();
            _outbox.WakeAll();
        }

        foreach (OutboxItem item in unsent)
        {
            Drop(item, reason);
        }
    }

    /// <summary>
    /// Takes back what a failed connection had accepted but never written: to the head of the outbox
    /// when another connection will follow, otherwise reported as dropped.
    /// </summary>
    private void RequeueUnsent(WebSocketConnection connection, bool willReconnect)
    {
        // As the bytes that were sent (UTF-8 for text): sent again, they are not encoded a second time.
        List<UnsentMessage> unsent = connection.TakeUnsentPayloads();
        if (unsent.Count == 0)
        {
            return;
        }

        var items = unsent.Select(m => new OutboxItem(m.MessageType, null, m.Payload, hasSender: false)).ToList();
        if (!willReconnect)
        {
            foreach (OutboxItem item in items)
            {
                Drop(item, "the connection failed before it was written and no reconnect follows");
            }

            return;
        }

        lock (_lock)
        {
            // Oldest first at the head, ahead of anything queued since the connection failed.
            for (int i = items.Count - 1; i >= 0; i--)
            {
                _outbox.AddFirst(items[i]);
            }
        }
    }

    private void Drop(OutboxItem item, string reason)
    {
        Log.MessageDropped(Logger, item.MessageType, item.Length, reason);
        if (item.HasSender)
        {
            item.Completion.TrySetException(new WebSocketMessageDroppedException($"The message was not sent: {reason}."));
        }

        try
        {
            _options.MessageDropped?.Invoke(item);
        }
#pragma warning disable CA1031 // The callback's failure must not stop the others being reported.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.HandlerFailed(Logger, "MessageDropped", ex);
            WriteUnobservedHandlerError("MessageDropped", ex);
        }
    }
}
