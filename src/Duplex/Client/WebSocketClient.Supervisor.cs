using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.ExceptionServices;
using Duplex.Connection;
using Duplex.Diagnostics;

namespace Duplex.Client;

public partial class WebSocketClient
{
    /// <summary>
    /// The one loop that owns the connection's life: watches a connection until it ends, decides about
    /// reconnecting (policy, backoff with jitter, limits), and opens the next one. It never runs a
    /// handler and never waits for one: the message pump delivers the messages, the event dispatcher
    /// runs the other handlers, so a handler that does not return cannot stop it.
    /// </summary>
    /// <param name="connection">The first connect's connection.</param>
    /// <param name="pump">The run's message pump.</param>
    /// <param name="opened">Completed once the first connection's connect handlers have run.</param>
    /// <param name="attempt">The first connect's attempt that opened <paramref name="connection"/>.</param>
    private async Task SuperviseAsync(WebSocketConnection connection, MessagePump pump, TaskCompletionSource? opened, int attempt)
    {
        bool isReconnect = false;
        CancellationToken stop = _run.Token;
        try
        {
            while (true)
            {
                long openedAt = _time.GetTimestamp();
                if (!Signal(ClientSignal.ConnectionOpened, connection))
                {
                    // The client was closed while this connection opened: nobody wants it.
                    connection.Abort();
                    return;
                }

                var source = new MessagePump.Source(connection);
                source.WatchConnectionEnd();
                OnConnectionOpened(connection, source, pump, isReconnect, attempt, opened);

                // ConnectAsync's signal now belongs to the connect handlers' continuation.
                opened = null;
                // Until the connection ends (its own timer watches for silence). The pump reaching the end
                // of its messages says so first after a clean close (both Close frames exchanged, the
                // server yet to end TCP, which need not hold up what comes next); the connection's own
                // end says so when a handler holds the pump up. Awaited here, not in a method of its
                // own: an idle client keeps one state machine less.
                await source.Ended.ConfigureAwait(false);
                if (connection.CloseError is not null)
                {
                    // A failed connection is being torn down: let that finish, so what it never wrote is known.
                    await connection.Completion.ConfigureAwait(false);
                }

                ConnectionEnd end = ConnectionEnd.From(connection);
                Signal(ClientSignal.ConnectionEnded);
                DuplexTelemetry.OpenConnections.Add(-1);
                bool closedByApplication;
                lock (_lock)
                {
                    closedByApplication = _phase != ClientPhase.Running;
                }

                // Messages the connection accepted but never wrote go back to the outbox (or are
                // reported when no connection will follow): nothing is lost silently.
                RequeueUnsent(connection, willReconnect: !closedByApplication && _options.Reconnect.Enabled);
                if (closedByApplication)
                {
                    await RaiseDisconnectedAsync(end, closedByApplication: true, willReconnect: false, delay: null, after: source.Settled).ConfigureAwait(false);
                    return;
                }

                // Only a connection that stayed up a while earns a fresh backoff.
                if (_time.GetElapsedTime(openedAt) >= _options.Reconnect.ResetAfter)
                {
                    attempt = 0;
                }

                (WebSocketConnection Connection, int Attempt)? next = await ReconnectAsync(end, attempt, stop, source.Settled).ConfigureAwait(false);
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
    /// <remarks>The disconnect is dispatched once <paramref name="delivered"/> completes: after the lost connection's messages.</remarks>
    private async Task<(WebSocketConnection Connection, int Attempt)?> ReconnectAsync(ConnectionEnd end, int attempt, CancellationToken stop, Task delivered)
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
                await RaiseDisconnectedAsync(end, closedByApplication: false, willReconnect: retry, delay: retry ? delay : null, after: delivered).ConfigureAwait(false);
                first = false;
            }
            else if (cause is not null)
            {
                await RaiseErrorAsync(cause).ConfigureAwait(false);
            }

            if (!retry)
            {
                GiveUp(new WebSocketGaveUpContext(reason, cause, status));
                return null;
            }

            // The timer is armed before the state says Disconnected, so whoever watches the state
            // (a test driving a fake clock) knows the wait has begun.
            Task wait = Task.Delay(delay, _time, stop);
            Log.ReconnectScheduled(Logger, attempt, delay);
            Signal(ClientSignal.ReconnectWaitStarted);
            await wait.ConfigureAwait(false);
            Signal(ClientSignal.ReconnectAttemptStarted);
            try
            {
                WebSocketConnection connection = await OpenConnectionAsync(attempt, isReconnect: true, cause, stop).ConfigureAwait(false);
                return (connection, attempt);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                cause = ex;
                status = null;
            }
        }
    }

    private void GiveUp(WebSocketGaveUpContext context)
    {
        lock (_lock)
        {
            _supervisor = null;
        }

        if ((_attemptUri ?? _uri) is { } uri)
        {
            Log.ReconnectGivenUp(Logger, Redaction.Uri(uri), context.Reason);
        }

        Signal(ClientSignal.GaveUp);
        FailOutbox("the client stopped reconnecting");
        _ = PostAsync(new DispatchItem(DispatchKind.GaveUp, context, null, null, null));
        _ = PostAsync(new DispatchItem(DispatchKind.EndOfStream, null, null, null, null));
    }

    /// <summary>Whether to try again, after how long, and if not, why not.</summary>
    /// <remarks>The same decision for a reconnect and for a first connect that retries (<paramref name="firstConnect"/>).</remarks>
    private (bool Retry, TimeSpan Delay, string Reason) Decide(Exception? cause, WebSocketCloseStatus? status, int attempt, TimeSpan elapsed, bool firstConnect = false)
    {
        WebSocketReconnectOptions policy = _options.Reconnect;
        if (!policy.Enabled)
        {
            return (false, TimeSpan.Zero, "reconnecting is disabled.");
        }

        if (policy.MaxAttempts is int max && attempt > max)
        {
            return (false, TimeSpan.Zero, firstConnect ? $"the first attempt and {max} retries failed." : $"{max} attempts failed.");
        }

        if (policy.MaxElapsedTime != Timeout.InfiniteTimeSpan && elapsed >= policy.MaxElapsedTime)
        {
            return (false, TimeSpan.Zero, firstConnect ? $"connecting took longer than {policy.MaxElapsedTime}." : $"reconnecting took longer than {policy.MaxElapsedTime}.");
        }

        bool retry = ReconnectRules.IsWorthRetrying(cause, status);
        if (policy.ShouldReconnect is { } custom)
        {
            retry = custom(new WebSocketReconnectContext(cause, status, attempt, elapsed, retry, firstConnect));
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
    /// The first connect: one attempt, or with <see cref="WebSocketReconnectOptions.RetryFirstConnect"/>
    /// attempts decided like reconnect attempts, until one opens (returned with its number), the
    /// policy stops (the last cause is thrown) or <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    private async Task<(WebSocketConnection Connection, int Attempt)> OpenFirstConnectionAsync(CancellationToken cancellationToken)
    {
        WebSocketReconnectOptions policy = _options.Reconnect;
        if (!policy.RetryFirstConnect)
        {
            return (await OpenConnectionAsync(attempt: 0, isReconnect: false, previousFailure: null, cancellationToken).ConfigureAwait(false), 0);
        }

        long started = _time.GetTimestamp();
        Exception? cause = null;
        int attempt = 0;
        while (true)
        {
            try
            {
                return (await OpenConnectionAsync(attempt, isReconnect: false, cause, cancellationToken).ConfigureAwait(false), attempt);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                cause = ex;
            }

            // Every failure is reported, the last one too: nobody may be awaiting this connect (the
            // manager's clients retry in the background).
            await RaiseErrorAsync(cause).ConfigureAwait(false);
            attempt++;
            (bool retry, TimeSpan delay, string reason) = cause is ArgumentException or InvalidOperationException
                ? (false, TimeSpan.Zero, $"{cause.GetType().Name} is a usage error: {cause.Message}")
                : Decide(cause, null, attempt, _time.GetElapsedTime(started), firstConnect: true);
            if (!retry)
            {
                if ((_attemptUri ?? _uri) is { } uri)
                {
                    Log.ConnectGivenUp(Logger, Redaction.Uri(uri), reason);
                }

                ExceptionDispatchInfo.Throw(cause);
            }

            // As for a reconnect, the timer is armed before the state says Disconnected.
            Task wait = Task.Delay(delay, _time, cancellationToken);
            Log.ConnectRetryScheduled(Logger, attempt, delay);
            Signal(ClientSignal.FirstConnectWaitStarted);
            await wait.ConfigureAwait(false);
            Signal(ClientSignal.ReconnectAttemptStarted);
        }
    }

    /// <summary>
    /// One connect attempt with a fresh URI and headers; a 401 answer to a URI or headers from a
    /// factory is retried once at once with both produced again (the token may just have expired).
    /// </summary>
    private async Task<WebSocketConnection> OpenConnectionAsync(int attempt, bool isReconnect, Exception? previousFailure, CancellationToken cancellationToken)
    {
        bool refreshed = false;
        while (true)
        {
            Uri uri = await ResolveUriAsync(attempt, isReconnect, previousFailure, cancellationToken).ConfigureAwait(false);
            _attemptUri = uri;
            string redacted = Redaction.Uri(uri);
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

                if (ex is WebSocketHandshakeRejectedException { StatusCode: 401 } && (_options.HeadersFactory is not null || _options.UriFactory is not null) && !refreshed)
                {
                    refreshed = true;
                    previousFailure = ex;
                    continue;
                }

                throw;
            }
        }
    }

    /// <summary>The URI of one attempt: the factory's (validated), or the one given to ConnectAsync.</summary>
    private async ValueTask<Uri> ResolveUriAsync(int attempt, bool isReconnect, Exception? previousFailure, CancellationToken cancellationToken)
    {
        Uri connectUri = _uri!;
        if (_options.UriFactory is not { } factory)
        {
            return connectUri;
        }

        var context = new WebSocketUriContext(connectUri, attempt, isReconnect, _attemptUri, previousFailure);
        Uri? produced = await factory(context, cancellationToken).ConfigureAwait(false);
        if (produced is null)
        {
            throw new InvalidOperationException($"{nameof(WebSocketClientOptions)}.{nameof(WebSocketClientOptions.UriFactory)} returned null.");
        }

        if (UriProblem(produced) is { } problem)
        {
            // The URI itself is not shown: it may carry a token.
            throw new InvalidOperationException($"The URI from {nameof(WebSocketClientOptions)}.{nameof(WebSocketClientOptions.UriFactory)} {problem}.");
        }

        return produced;
    }

    /// <summary>What makes <paramref name="uri"/> unusable as a WebSocket URI (RFC 6455 §3), or null.</summary>
    private static string? UriProblem(Uri uri)
    {
        if (!uri.IsAbsoluteUri)
        {
            return "must be absolute";
        }

        if (uri.Scheme is not ("ws" or "wss" or "http" or "https"))
        {
            return $"scheme must be ws or wss (or http or https), not '{uri.Scheme}'";
        }

        // RFC 6455 §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and
        // MUST NOT be used on these URIs."
        if (uri.Fragment.Length > 0)
        {
            return "must not have a fragment (RFC 6455 §3)";
        }

        return uri.Host.Length == 0 ? "must have a host" : null;
    }

    /// <summary>The connection options for one attempt: static headers, connect headers, then the factory's.</summary>
    private async ValueTask<WebSocketConnectionOptions> BuildConnectionOptionsAsync(CancellationToken cancellationToken)
    {
        WebSocketConnectionOptions options = _options.Connection.Snapshot();

        // The connection's one timer serves the silence limit beside keepalive.
        options.SilenceTimeout = _options.SilenceTimeout;
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

    /// <summary>
    /// A new connection is current (the state says Open): connect handlers, then — without the
    /// supervisor waiting — its messages and the outbox.
    /// </summary>
    private void OnConnectionOpened(WebSocketConnection connection, MessagePump.Source source, MessagePump pump, bool isReconnect, int attempt, TaskCompletionSource? opened)
    {
        DuplexTelemetry.OpenConnections.Add(1);
        Log.ClientConnected(Logger, Redaction.Uri(_attemptUri ?? _uri!), connection.HandshakeResponse!.HttpVersion, isReconnect, Log.Shown(connection.SubProtocol));
        var context = new WebSocketConnectedContext(connection.HandshakeResponse.Uri, isReconnect, attempt, connection.HandshakeResponse);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _ = PostAsync(new DispatchItem(DispatchKind.Connected, context, done, connection, null));
        _ = AfterConnectHandlersAsync(connection, source, pump, done.Task, opened);
    }

    /// <summary>
    /// Once the connect handlers have run: the connection's messages go to the pump (after those of
    /// earlier connections), ConnectAsync returns, and the outbox drains. The connect handlers run
    /// first so that what they send (authentication, subscriptions) goes out before anything that
    /// waited in the outbox, and so that they see no message of their connection before they finish.
    /// </summary>
    private async Task AfterConnectHandlersAsync(WebSocketConnection connection, MessagePump.Source source, MessagePump pump, Task connectHandlers, TaskCompletionSource? opened)
    {
        await connectHandlers.ConfigureAwait(false);
        pump.Attach(source);
        opened?.TrySetResult();
        await DrainOutboxAsync(connection).ConfigureAwait(false);
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
