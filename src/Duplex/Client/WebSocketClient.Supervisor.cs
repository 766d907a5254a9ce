using System.Diagnostics;
using System.Net.WebSockets;
using Duplex.Connection;
using Duplex.Diagnostics;

namespace Duplex.Client;

public partial class WebSocketClient
{
    /// <summary>
    /// The one loop that owns the connection's life: runs a connection until it ends, decides about
    /// reconnecting (policy, backoff with jitter, limits), and opens the next one.
    /// </summary>
    private async Task SuperviseAsync(WebSocketConnection connection, TaskCompletionSource? opened)
    {
        bool isReconnect = false;
        int attempt = 0;
        CancellationToken stop = _run.Token;
        try
        {
            while (true)
            {
                long openedAt = _time.GetTimestamp();
                await OnConnectionOpenedAsync(connection, isReconnect, attempt, opened).ConfigureAwait(false);

                // ConnectAsync has returned: the loop keeps no hold on its signal for the client's lifetime.
                opened = null;
                ConnectionEnd end = await RunConnectionAsync(connection).ConfigureAwait(false);
                lock (_lock)
                {
                    _connection = null;
                    _sendDirect = false;
                    _directConnection = null;
                }

                DuplexTelemetry.OpenConnections.Add(-1);
                bool closedByApplication;
                lock (_lock)
                {
                    closedByApplication = _closeRequested;
                }

                // Messages the connection accepted but never wrote go back to the outbox (or are
                // reported when no connection will follow): nothing is lost silently.
                RequeueUnsent(connection, willReconnect: !closedByApplication && _options.Reconnect.Enabled);
                if (closedByApplication)
                {
                    await RaiseDisconnectedAsync(end, closedByApplication: true, willReconnect: false, delay: null).ConfigureAwait(false);
                    return;
                }

                // Only a connection that stayed up a while earns a fresh backoff.
                if (_time.GetElapsedTime(openedAt) >= _options.Reconnect.ResetAfter)
                {
                    attempt = 0;
                }

                (WebSocketConnection Connection, int Attempt)? next = await ReconnectAsync(end, attempt, stop).ConfigureAwait(false);
                if (next is null)
                {
                    return;
                }

                connection = next.Value.Connection;
                attempt = next.Value.Attempt;
                isReconnect = true;
                DuplexTelemetry.Reconnects.Add(1);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            // The client was closed or disposed while waiting.
        }
        finally
        {
            opened?.TrySetResult();
        }
    }

    /// <summary>
    /// Retries until a connection opens (returns it) or the policy, the limits or a close stop it
    /// (returns null, having reported why).
    /// </summary>
    private async Task<(WebSocketConnection Connection, int Attempt)?> ReconnectAsync(ConnectionEnd end, int attempt, CancellationToken stop)
    {
        long started = _time.GetTimestamp();
        Exception? cause = end.Exception;
        WebSocketCloseStatus? status = end.CloseStatus;
        bool first = true;
        while (true)
        {
            attempt++;
            (bool retry, TimeSpan delay, string reason) = Decide(cause, status, attempt, _time.GetElapsedTime(started));
            if (first)
            {
                await RaiseDisconnectedAsync(end, closedByApplication: false, willReconnect: retry, delay: retry ? delay : null).ConfigureAwait(false);
                first = false;
            }
            else if (cause is not null)
            {
                await RaiseErrorAsync(cause).ConfigureAwait(false);
            }

            if (!retry)
            {
                GiveUp(reason);
                return null;
            }

            // The timer is armed before the state says Disconnected, so whoever watches the state
            // (a test driving a fake clock) knows the wait has begun.
            Task wait = Task.Delay(delay, _time, stop);
            Log.ReconnectScheduled(Logger, attempt, delay);
            SetState(WebSocketClientState.Disconnected);
            await wait.ConfigureAwait(false);
            SetState(WebSocketClientState.Connecting);
            try
            {
                WebSocketConnection connection = await OpenConnectionAsync(attempt, stop).ConfigureAwait(false);
                return (connection, attempt);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                cause = ex;
                status = null;
            }
        }
    }

    private void GiveUp(string reason)
    {
        lock (_lock)
        {
            _gaveUp = true;
            _directConnection = null;
            _started = false;
            _supervisor = null;
        }

        if (_uri is not null)
        {
            Log.ReconnectGivenUp(Logger, Redaction.Uri(_uri), reason);
        }

        SetState(WebSocketClientState.Disconnected);
        FailOutbox("the client stopped reconnecting");
        _ = PostAsync(new DispatchItem(DispatchKind.EndOfStream, null, null, null));
    }

    /// <summary>Whether to try again, after how long, and if not, why not.</summary>
    private (bool Retry, TimeSpan Delay, string Reason) Decide(Exception? cause, WebSocketCloseStatus? status, int attempt, TimeSpan elapsed)
    {
        WebSocketReconnectOptions policy = _options.Reconnect;
        if (!policy.Enabled)
        {
            return (false, TimeSpan.Zero, "reconnecting is disabled.");
        }

        if (policy.MaxAttempts is int max && attempt > max)
        {
            return (false, TimeSpan.Zero, $"{max} attempts failed.");
        }

        if (policy.MaxElapsedTime != Timeout.InfiniteTimeSpan && elapsed >= policy.MaxElapsedTime)
        {
            return (false, TimeSpan.Zero, $"reconnecting took longer than {policy.MaxElapsedTime}.");
        }

        bool retry = ReconnectRules.IsWorthRetrying(cause, status);
        if (policy.ShouldReconnect is { } custom)
        {
            retry = custom(new WebSocketReconnectContext(cause, status, attempt, elapsed, retry));
        }

        if (!retry)
        {
            return (false, TimeSpan.Zero, cause is null ? $"the connection ended with close status {(int?)status} that reconnecting cannot fix." : $"{cause.GetType().Name} is not worth retrying: {cause.Message}");
        }

        TimeSpan delay = ReconnectRules.Backoff(policy, attempt, _options.Random.NextDouble());
        if (cause is WebSocketHandshakeRejectedException { RetryAfter: { } retryAfter } && retryAfter > delay)
        {
            // The server said when to come back.
            delay = retryAfter;
        }

        return (true, delay, string.Empty);
    }

    /// <summary>
    /// One connect attempt with fresh headers; a 401 answer to headers from the factory is retried
    /// once at once with headers produced again (the token may just have expired).
    /// </summary>
    private async Task<WebSocketConnection> OpenConnectionAsync(int attempt, CancellationToken cancellationToken)
    {
        Uri uri = _uri!;
        string redacted = Redaction.Uri(uri);
        bool refreshed = false;
        while (true)
        {
            WebSocketConnectionOptions options = await BuildConnectionOptionsAsync(cancellationToken).ConfigureAwait(false);
            var connection = new WebSocketConnection(options);
            using Activity? activity = DuplexTelemetry.ActivitySource.StartActivity("websocket.connect", ActivityKind.Client);
            activity?.SetTag("url.full", redacted);
            activity?.SetTag("duplex.attempt", attempt);
            Log.ClientConnecting(Logger, redacted, attempt);
            DuplexTelemetry.ConnectAttempts.Add(1);
            try
            {
                await connection.ConnectAsync(uri, cancellationToken).ConfigureAwait(false);
                activity?.SetTag("http.response.status_code", connection.HandshakeResponse!.StatusCode);
                return connection;
            }
            catch (Exception ex)
            {
                connection.Dispose();
                string error = ex is WebSocketConnectException connect ? connect.Error.ToString() : ex.GetType().Name;
                activity?.SetStatus(ActivityStatusCode.Error, error);
                if (ex is not OperationCanceledException)
                {
                    DuplexTelemetry.ConnectFailures.Add(1, new KeyValuePair<string, object?>("error.type", error));
                    // Our exception messages name no secret; a cause from elsewhere is named by its type only.
                    Log.ClientConnectFailed(Logger, redacted, error, ex is DuplexException ? ex.Message : ex.GetType().Name);
                    Log.ClientConnectFailedDetail(Logger, redacted, error, ex);
                }

                if (ex is WebSocketHandshakeRejectedException { StatusCode: 401 } && _options.HeadersFactory is not null && !refreshed)
                {
                    refreshed = true;
                    continue;
                }

                throw;
            }
        }
    }

    /// <summary>The connection options for one attempt: static headers, connect headers, then the factory's.</summary>
    private async ValueTask<WebSocketConnectionOptions> BuildConnectionOptionsAsync(CancellationToken cancellationToken)
    {
        WebSocketConnectionOptions options = _options.Connection.Snapshot();
        IDictionary<string, string> headers = options.Handshake.Headers;
        if (_connectHeaders is { } fixedHeaders)
        {
            foreach (KeyValuePair<string, string> header in fixedHeaders)
            {
                headers[header.Key] = header.Value;
            }
        }

        if (_options.HeadersFactory is { } factory)
        {
            IReadOnlyDictionary<string, string> produced = await factory(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The headers factory returned null.");
            foreach (KeyValuePair<string, string> header in produced)
            {
                headers[header.Key] = header.Value;
            }
        }

        foreach (KeyValuePair<string, string> header in headers)
        {
            Log.HandshakeHeader(Logger, header.Key, Redaction.HeaderValue(header.Key, header.Value));
        }

        if (_connectTls is { } tls)
        {
            options.Handshake.Tls = tls;
        }

        return options;
    }

    /// <summary>Makes a new connection current: state Open, connect handlers, then the outbox.</summary>
    private async Task OnConnectionOpenedAsync(WebSocketConnection connection, bool isReconnect, int attempt, TaskCompletionSource? opened)
    {
        lock (_lock)
        {
            _connection = connection;
            _sendDirect = false;
            _directConnection = null;
        }

        DuplexTelemetry.OpenConnections.Add(1);
        SetState(WebSocketClientState.Open);
        Log.ClientConnected(Logger, Redaction.Uri(_uri!), connection.HandshakeResponse!.HttpVersion, isReconnect, Log.Shown(connection.SubProtocol));

        // Connect handlers run to completion first, so what they send (authentication,
        // subscriptions) goes out before anything that waited in the outbox.
        var context = new WebSocketConnectedContext(connection.HandshakeResponse.Uri, isReconnect, attempt, connection.HandshakeResponse);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new DispatchItem(DispatchKind.Connected, context, done, connection)).ConfigureAwait(false);
        await done.Task.ConfigureAwait(false);
        opened?.TrySetResult();
        await DrainOutboxAsync(connection).ConfigureAwait(false);
    }

    /// <summary>
    /// The message pump: hands the connection's messages to the handlers until the connection ends
    /// (while the handlers are busy the connection's receive queue fills and reading pauses), and
    /// watches for silence.
    /// </summary>
    private async Task<ConnectionEnd> RunConnectionAsync(WebSocketConnection connection)
    {
        using ITimer? watchdog = StartSilenceWatchdog(connection);
        try
        {
            while (true)
            {
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
                    break;
                }

                DuplexTelemetry.MessagesReceived.Add(1);
                DuplexTelemetry.BytesReceived.Add(message.Text is { } t ? t.Length : message.Data.Length);
                var received = new WebSocketClientMessage(message.MessageType, message.Text, message.Data, _jsonCache, ++_messageSequence);
                await DeliverAsync(received).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is DuplexException or System.Threading.Channels.ChannelClosedException)
        {
            // A connection failed for a protocol violation is still sending its Close behind the
            // handlers' replies and waiting (bounded) for the server to end TCP (RFC 6455 §7.1.1);
            // aborting it would cut both short.
            if (ex is not WebSocketProtocolException)
            {
                connection.Abort();
            }

            await connection.Completion.ConfigureAwait(false);
        }

        // After a clean close the connection may still be waiting (bounded) for the server to end
        // TCP; that need not hold up what comes next.
        return ConnectionEnd.From(connection);
    }

    private ITimer? StartSilenceWatchdog(WebSocketConnection connection)
    {
        TimeSpan silence = _options.SilenceTimeout;
        if (silence == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        // Checked four times per timeout, so silence is noticed at most a quarter late.
        TimeSpan period = silence / 4;
        return _time.CreateTimer(
            _ =>
            {
                if (_time.GetElapsedTime(connection.LastReceivedTimestamp) >= silence)
                {
                    Log.SilenceTimeout(Logger, silence);
                    connection.FailOnTimeout(
                        WebSocketCloseStatus.EndpointUnavailable,
                        "silence timeout",
                        $"Nothing was received for {silence.TotalSeconds:0.###} s.");
                }
            },
            null,
            period,
            period);
    }

    /// <summary>How a connection ended, as the reconnect policy and the disconnect handlers see it.</summary>
    private readonly record struct ConnectionEnd(WebSocketCloseStatus? CloseStatus, string? Description, Exception? Exception)
    {
        public static ConnectionEnd From(WebSocketConnection connection) => connection.CloseError switch
        {
            WebSocketClosedException closed => new(closed.CloseStatus, closed.CloseDescription, closed),
            WebSocketProtocolException protocol => new(protocol.CloseStatus, protocol.Message, protocol),
            { } other => new((WebSocketCloseStatus)1006, null, other),
            null => connection.RemoteCloseStatus is not null || connection.LocalCloseStatus is null
                ? new(connection.RemoteCloseStatus, connection.RemoteCloseStatusDescription, null)
                : new(connection.LocalCloseStatus, connection.LocalCloseStatusDescription, null),
        };
    }
}
