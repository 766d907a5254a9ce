using System.Net.WebSockets;
using System.Threading.Channels;
using Duplex.Connection;
using Duplex.Diagnostics;
using Duplex.Handshake;
using Duplex.Protocol;
using Microsoft.Extensions.Logging;

namespace Duplex.Client;

/// <summary>
/// A resilient WebSocket client: connects with custom headers, keeps the connection alive with
/// Ping/Pong, reconnects by itself with backoff and jitter when the connection drops, queues sends
/// in a bounded outbox while it reconnects, and hands received messages (JSON already parsed) to
/// async handlers and to <see cref="ReadAllAsync"/>.
/// </summary>
/// <remarks>
/// <para>Thread safety: every public member may be called from any number of threads at once.</para>
/// <para>One supervisor loop owns the state machine and decides about reconnecting; it never runs or
/// waits for a handler. Handlers run one at a time, in order, on the client's message pump (messages)
/// and event dispatcher (connect, disconnect, error) — never on the socket's receive loop — so a slow
/// handler never delays Pongs, keepalive, reconnecting or <see cref="CloseAsync(WebSocketCloseStatus, string?, CancellationToken)"/>
/// (messages wait in the connection's bounded receive queue; when it is full, reading pauses). A
/// connection's messages reach the handlers after its connect handlers and before its disconnect
/// handlers; a handler that does not return holds up the handlers behind it, and is reported after
/// <see cref="WebSocketClientOptions.SlowHandlerThreshold"/>.</para>
/// <para>Cancellation: a send cancelled while its message waits in the outbox is removed from it;
/// once handed to a connection it is sent. Cancelling other waits leaves the client as it is.</para>
/// <para>Designed for inheritance: override <see cref="OnMessageReceivedAsync"/> and the other
/// <c>On…Async</c> hooks and call the base to keep the registered handlers running.</para>
/// </remarks>
public partial class WebSocketClient : IAsyncDisposable, IDisposable
{
    private static readonly AsyncLocal<WebSocketConnection?> s_handlerConnection = new();

    private readonly WebSocketClientOptions _options;
    private readonly TimeProvider _time;
    private readonly object _lock = new();
    private readonly Outbox _outbox;
    private readonly CancellationTokenSource _lifetime = new();
    private WebSocketClientState _state = WebSocketClientState.Closed;
    private WebSocketConnection? _connection;
    private MessagePump? _pump;
    private CancellationTokenSource _run = new();

    // The first connect's own token source while it runs: cancelled with _run, and never registered on
    // _run (a token source keeps what a registration leaves behind for as long as it lives).
    private CancellationTokenSource? _connecting;
    private Task? _supervisor;
    private Task? _closeTask;
    private Uri? _uri;

    // The URI of the latest attempt (the factory's, or _uri); written only by the first connect and
    // then the supervisor, one after the other.
    private Uri? _attemptUri;
    private IReadOnlyDictionary<string, string>? _connectHeaders;
    private WebSocketTlsOptions? _connectTls;
    private bool _disposed;
    private long _lastRoundTripTicks = -1;

    /// <summary>Creates a client; nothing happens until <see cref="ConnectAsync(Uri, IReadOnlyDictionary{string, string}?, WebSocketTlsOptions?, CancellationToken)"/>.</summary>
    /// <param name="options">Settings; null for the defaults. Validated and copied.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public WebSocketClient(WebSocketClientOptions? options = null)
    {
        _options = (options ?? new WebSocketClientOptions()).Snapshot();
        _time = _options.TimeProvider;
        Logger = _options.Logger;
        _outbox = new Outbox(_options.OutboxCapacity);
        _jsonCache = new WebSocketClientMessage.JsonCache(_options.JsonSerializerOptions);
    }

    /// <summary>Raised when <see cref="State"/> changes, on the thread that changed it; keep handlers short.</summary>
    public event EventHandler<WebSocketClientStateChangedEventArgs>? StateChanged;

    /// <summary>Where the client is in its life cycle.</summary>
    public WebSocketClientState State
    {
        get
        {
            lock (_lock)
            {
                return _state;
            }
        }
    }

    /// <summary>Whether a connection is open right now.</summary>
    public bool IsOpen => State == WebSocketClientState.Open;

    /// <summary>
    /// Whether the client is between connections and will try again: reconnecting after a loss, or
    /// retrying a first connect (<see cref="WebSocketReconnectOptions.RetryFirstConnect"/>) after a
    /// failed attempt.
    /// </summary>
    public bool IsReconnecting
    {
        get
        {
            lock (_lock)
            {
                return _phase == ClientPhase.Running && _state is WebSocketClientState.Disconnected or WebSocketClientState.Connecting && (_supervisor is not null || _retryingFirstConnect);
            }
        }
    }

    /// <summary>
    /// Whether the client stopped reconnecting by itself: reconnecting is disabled, the attempts or
    /// the time allowed ran out, or the connection ended in a way reconnecting cannot fix (a close
    /// code such as 1008 or 1009, a 401/403 answer to a reconnect). <see cref="State"/> then reads
    /// <see cref="WebSocketClientState.Disconnected"/> with <see cref="IsReconnecting"/> false, and
    /// the <see cref="OnGaveUp"/> handlers have been told why. Reset by
    /// <see cref="CloseAsync(WebSocketCloseStatus, string?, CancellationToken)"/> (the state becomes
    /// <see cref="WebSocketClientState.Closed"/>) and by a new connect.
    /// </summary>
    public bool HasGivenUp
    {
        get
        {
            lock (_lock)
            {
                return _phase == ClientPhase.GaveUp;
            }
        }
    }

    /// <summary>The server URI given to <see cref="ConnectAsync(Uri, IReadOnlyDictionary{string, string}?, WebSocketTlsOptions?, CancellationToken)"/>.</summary>
    public Uri? Uri => _uri;

    /// <summary>The round-trip time of the latest answered Ping (keepalive or <see cref="PingAsync(ReadOnlyMemory{byte}, TimeSpan?, CancellationToken)"/>); null before any.</summary>
    public TimeSpan? LastRoundTripTime
    {
        get
        {
            WebSocketConnection? connection;
            lock (_lock)
            {
                connection = _connection;
            }

            long ticks = Interlocked.Read(ref _lastRoundTripTicks);
            return connection?.LastRoundTripTime ?? (ticks < 0 ? null : TimeSpan.FromTicks(ticks));
        }
    }

    /// <summary>How many messages wait in the outbox for a connection.</summary>
    public int OutboxCount
    {
        get
        {
            lock (_lock)
            {
                return _outbox.Count;
            }
        }
    }

    /// <summary>Whether the first connect follows the reconnect policy (<see cref="WebSocketReconnectOptions.RetryFirstConnect"/>, with reconnecting enabled).</summary>
    internal bool RetriesFirstConnect => _options.Reconnect.RetryFirstConnect && _options.Reconnect.Enabled;

    /// <summary>The client's logger, for subclasses.</summary>
    protected ILogger Logger { get; }

    /// <summary>
    /// Creates a client, lets <paramref name="configure"/> register its handlers, then connects it, so
    /// that no message is missed — not even one the server sends as soon as the connection opens.
    /// </summary>
    /// <param name="uri">The server, <c>ws://</c> or <c>wss://</c>.</param>
    /// <param name="configure">Runs before the connect, with the new client: register handlers here.</param>
    /// <param name="headers">Headers for the opening handshake, or null.</param>
    /// <param name="options">Client settings, or null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>A connected client; dispose it when done.</returns>
    public static Task<WebSocketClient> CreateConnectedAsync(Uri uri, Action<WebSocketClient> configure, IReadOnlyDictionary<string, string>? headers = null, WebSocketClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return CreateConnectedCoreAsync(uri, configure, headers, options, cancellationToken);
    }

    /// <summary>Creates a client with the default options and connects it; see <see cref="CreateConnectedAsync(Uri, IReadOnlyDictionary{string, string}?, WebSocketClientOptions?, CancellationToken)"/>.</summary>
    /// <param name="uri">The server, <c>ws://</c> or <c>wss://</c>.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>A connected client; dispose it when done.</returns>
    public static Task<WebSocketClient> CreateConnectedAsync(Uri uri, CancellationToken cancellationToken) =>
        CreateConnectedAsync(uri, headers: null, options: null, cancellationToken);

    /// <summary>
    /// Creates a client and connects it: the one-call way to get a connected client.
    /// </summary>
    /// <param name="uri">The server, <c>ws://</c> or <c>wss://</c>.</param>
    /// <param name="headers">Headers for the opening handshake, or null.</param>
    /// <param name="options">Client settings, or null for the defaults.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <returns>A connected client; dispose it when done.</returns>
    /// <remarks>Messages wait in the connection until a handler or reader is registered; to register handlers before the connect, use <see cref="CreateConnectedAsync(Uri, Action{WebSocketClient}, IReadOnlyDictionary{string, string}?, WebSocketClientOptions?, CancellationToken)"/>.</remarks>
    public static Task<WebSocketClient> CreateConnectedAsync(Uri uri, IReadOnlyDictionary<string, string>? headers = null, WebSocketClientOptions? options = null, CancellationToken cancellationToken = default) =>
        CreateConnectedCoreAsync(uri, configure: null, headers, options, cancellationToken);

    private static async Task<WebSocketClient> CreateConnectedCoreAsync(Uri uri, Action<WebSocketClient>? configure, IReadOnlyDictionary<string, string>? headers, WebSocketClientOptions? options, CancellationToken cancellationToken)
    {
        var client = new WebSocketClient(options);
        try
        {
            configure?.Invoke(client);
            await client.ConnectAsync(uri, headers, null, cancellationToken).ConfigureAwait(false);
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Connects to <paramref name="uri"/> with the options' headers and TLS settings; see <see cref="ConnectAsync(Uri, IReadOnlyDictionary{string, string}?, WebSocketTlsOptions?, CancellationToken)"/>.</summary>
    /// <param name="uri">The server, <c>ws://</c> or <c>wss://</c> (<c>http</c>/<c>https</c> accepted).</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    public Task ConnectAsync(Uri uri, CancellationToken cancellationToken) =>
        ConnectAsync(uri, headers: null, tls: null, cancellationToken);

    /// <summary>
    /// Connects to <paramref name="uri"/> and, once connected, keeps the connection up: the client
    /// reconnects by itself until <see cref="CloseAsync(WebSocketCloseStatus, string?, CancellationToken)"/>. Completes when the connection is open and
    /// the connect handlers have run.
    /// </summary>
    /// <remarks>
    /// By default one attempt is made and its failure thrown. With
    /// <see cref="WebSocketReconnectOptions.RetryFirstConnect"/>, transient failures are retried under
    /// the reconnect policy and this completes only once a connection is open; what it throws then is
    /// the cause of the last attempt. With <see cref="WebSocketClientOptions.UriFactory"/>, each
    /// attempt connects to the URI the factory produces, and <paramref name="uri"/> is what it is
    /// given. Closing or disposing the client meanwhile fails the connect with a
    /// <see cref="WebSocketClosedException"/>.
    /// </remarks>
    /// <param name="uri">The server, <c>ws://</c> or <c>wss://</c> (<c>http</c>/<c>https</c> accepted).</param>
    /// <param name="headers">Headers for every opening handshake, added to the options' static headers; or null.</param>
    /// <param name="tls">TLS settings replacing the options' ones; or null.</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <exception cref="WebSocketHandshakeRejectedException">The server refused the upgrade (status, headers, body inside).</exception>
    /// <exception cref="WebSocketConnectException">The connect failed; <see cref="WebSocketConnectException.Error"/> says why (DNS, refused, TLS, timeout…).</exception>
    /// <exception cref="WebSocketClosedException">The client was closed or disposed before the connection opened.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ArgumentException"><paramref name="uri"/> is not an absolute WebSocket URI, or a header is not allowed or malformed (the message names it).</exception>
    /// <exception cref="InvalidOperationException">The client is already connected or connecting, or <see cref="WebSocketClientOptions.UriFactory"/> produced no valid URI.</exception>
    public async Task ConnectAsync(Uri uri, IReadOnlyDictionary<string, string>? headers = null, WebSocketTlsOptions? tls = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (UriProblem(uri) is { } problem)
        {
            throw new ArgumentException($"The WebSocket URI {problem}.", nameof(uri));
        }

        CancellationTokenSource connecting;
        MessagePump pump;
        (WebSocketClientState, WebSocketClientState)? change;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_phase is ClientPhase.Running or ClientPhase.Closing)
            {
                throw new InvalidOperationException("The client is already connected or connecting; it reconnects by itself. Close it before connecting again.");
            }

            _closeTask = null;
            _uri = uri;
            _attemptUri = null;
            _connectHeaders = headers is null ? null : new Dictionary<string, string>(headers, StringComparer.OrdinalIgnoreCase);
            _connectTls = tls;
            _run.Dispose();
            _run = new CancellationTokenSource();
            connecting = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : new CancellationTokenSource();
            _connecting = connecting;
            Volatile.Write(ref _streamEnded, false);

            // One pump per run, across its connections: their messages are delivered in order.
            pump = new MessagePump(this, _time, Logger, _options.SlowHandlerThreshold);
            _pump = pump;
            ApplyLocked(ClientSignal.ConnectRequested, null, out change);
        }

        RaiseStateChanged(change);
        WebSocketConnection connection;
        int attempt;
        try
        {
            (connection, attempt) = await OpenFirstConnectionAsync(connecting.Token).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            EndConnecting(connecting);
            pump.Stop();
            Signal(ClientSignal.FirstConnectFailed);
            FailOutbox("the first connect failed");
            if (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new WebSocketClosedException("The client was closed while connecting.", null, null, closedByPeer: false, ex);
            }

            throw;
        }

        EndConnecting(connecting);
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task supervisor = SuperviseAsync(connection, pump, opened, attempt);
        lock (_lock)
        {
            _supervisor = supervisor;
        }

        await opened.Task.ConfigureAwait(false);
    }

    /// <summary>Sends a Ping with <paramref name="payload"/> and waits for its Pong up to <see cref="WebSocketClientOptions.PingTimeout"/>.</summary>
    /// <param name="payload">At most 125 bytes.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Whether the Pong came back in time, and the round-trip time.</returns>
    public ValueTask<WebSocketPingResult> PingAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        PingAsync(payload, timeout: null, cancellationToken);

    /// <summary>
    /// Sends a Ping with <paramref name="payload"/> and waits for its Pong.
    /// </summary>
    /// <param name="payload">At most 125 bytes.</param>
    /// <param name="timeout">How long to wait for the Pong; null for <see cref="WebSocketClientOptions.PingTimeout"/>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Whether the Pong came back in time, and the round-trip time.</returns>
    public async ValueTask<WebSocketPingResult> PingAsync(ReadOnlyMemory<byte> payload = default, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (payload.Length > FrameHeader.MaxControlPayload)
        {
            throw new ArgumentException($"A Ping payload must be at most {FrameHeader.MaxControlPayload} bytes.", nameof(payload));
        }

        TimeSpan wait = timeout ?? _options.PingTimeout;
        WebSocketConnectionOptions.ValidateTimeout(wait, nameof(timeout));
        WebSocketConnection? connection;
        lock (_lock)
        {
            connection = _state == WebSocketClientState.Open ? _connection : null;
        }

        if (connection is null)
        {
            return new WebSocketPingResult(false, TimeSpan.Zero);
        }

        long start = _time.GetTimestamp();
        using var deadline = new CancellationTokenSource(wait, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        try
        {
            TimeSpan rtt = await connection.PingAsync(payload, linked.Token).ConfigureAwait(false);
            Interlocked.Exchange(ref _lastRoundTripTicks, rtt.Ticks);
            DuplexTelemetry.PingRoundTrip.Record(rtt.TotalMilliseconds);
            return new WebSocketPingResult(true, rtt);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new WebSocketPingResult(false, _time.GetElapsedTime(start));
        }
        catch (DuplexException)
        {
            return new WebSocketPingResult(false, _time.GetElapsedTime(start));
        }
    }

    /// <summary>Closes with status 1000 (normal closure) and stops reconnecting; see <see cref="CloseAsync(WebSocketCloseStatus, string?, CancellationToken)"/>.</summary>
    /// <param name="cancellationToken">Stops waiting; the close goes on.</param>
    public Task CloseAsync(CancellationToken cancellationToken) =>
        CloseAsync(WebSocketCloseStatus.NormalClosure, statusDescription: null, cancellationToken);

    /// <summary>
    /// Closes the connection with a closing handshake and stops reconnecting. With
    /// <see cref="WebSocketClientOptions.DrainOutboxOnClose"/> the outbox is sent first; whatever
    /// cannot be sent within the close timeout is reported (its send fails, and
    /// <see cref="WebSocketClientOptions.MessageDropped"/> receives it). Messages already received are
    /// still delivered, then the disconnect handlers run. All of it is bounded by the connection's
    /// <see cref="WebSocketConnectionOptions.CloseTimeout"/>: a message handler that has not returned
    /// by then is left behind, with its token cancelled. Idempotent.
    /// </summary>
    /// <param name="closeStatus">1000–1003, 1007–1014 or 3000–4999.</param>
    /// <param name="statusDescription">A reason of at most 123 UTF-8 bytes.</param>
    /// <param name="cancellationToken">Stops waiting; the close goes on.</param>
    public Task CloseAsync(WebSocketCloseStatus closeStatus = WebSocketCloseStatus.NormalClosure, string? statusDescription = null, CancellationToken cancellationToken = default)
    {
        CloseStatusRules.ValidateOutgoing(closeStatus, statusDescription, nameof(closeStatus), nameof(statusDescription));
        Task close;
        (WebSocketClientState, WebSocketClientState)? change = null;
        MessagePump? stopPump = null;
        lock (_lock)
        {
            if (_closeTask is null)
            {
                bool running = _phase == ClientPhase.Running;
                ApplyLocked(ClientSignal.CloseRequested, null, out change);
                _closeTask = running ? CloseCoreAsync(closeStatus, statusDescription) : Task.CompletedTask;

                // Not running (given up, or never connected): no connection to close, only a pump that
                // may still hold a handler.
                stopPump = running ? null : _pump;
            }

            close = _closeTask;
        }

        RaiseStateChanged(change);
        stopPump?.Stop();

        return cancellationToken.CanBeCanceled ? close.WaitAsync(cancellationToken) : close;
    }

    /// <summary>Closes cleanly (bounded by the close timeout), then stops the dispatcher. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DuplexException or OperationCanceledException or ObjectDisposedException)
        {
            // Disposal is best effort.
        }

        Shutdown();
        try
        {
            await CurrentDispatcher.WaitAsync(TimeSpan.FromSeconds(5), _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A handler that does not return is left behind; its token is cancelled below.
        }

        _lifetime.Cancel();
        GC.SuppressFinalize(this);
    }

    /// <summary>Aborts the connection without a closing handshake and stops everything. Never throws.</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the client; subclasses that own resources override and call the base.</summary>
    /// <param name="disposing">True from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
        {
            return;
        }

        WebSocketConnection? connection;
        MessagePump? pump;
        (WebSocketClientState, WebSocketClientState)? change;
        lock (_lock)
        {
            _closeTask ??= Task.CompletedTask;
            connection = _connection;
            pump = _pump;
            ApplyLocked(ClientSignal.Disposed, null, out change);
        }

        StopRunning();
        connection?.Abort();
        pump?.Stop();
        FailOutbox("the client was disposed");
        RaiseStateChanged(change);
        Shutdown();
        _lifetime.Cancel();
    }

    private void EndConnecting(CancellationTokenSource connecting)
    {
        lock (_lock)
        {
            _connecting = null;
        }

        connecting.Dispose();
    }

    /// <summary>Stops the supervisor's waits and a first connect still under way.</summary>
    private void StopRunning()
    {
        _run.Cancel();
        CancellationTokenSource? connecting;
        lock (_lock)
        {
            connecting = _connecting;
        }

        try
        {
            // Outside the lock: cancelling runs the connect's callbacks right here.
            connecting?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connect ended meanwhile.
        }
    }

    private void Shutdown()
    {
        lock (_lock)
        {
            _disposed = true;
            _directConnection = null;
        }

        CloseEvents(new DispatchItem(DispatchKind.EndOfStream, null, null, null, null));
    }

    /// <summary>
    /// The close, all of it bounded by one close timeout: the outbox and the closing handshake, the
    /// supervisor's end, the messages already received (the pump delivers them while it can), then
    /// the disconnect handlers. A handler that does not return is left behind, its token cancelled.
    /// </summary>
    private async Task CloseCoreAsync(WebSocketCloseStatus closeStatus, string? statusDescription)
    {
        await Task.Yield();
        StopRunning();
        WebSocketConnection? connection;
        Task? supervisor;
        MessagePump? pump;
        lock (_lock)
        {
            connection = _connection;
            supervisor = _supervisor;
            pump = _pump;
        }

        using var deadline = new CancellationTokenSource(_options.Connection.CloseTimeout, _time);
        try
        {
            if (connection is not null && _options.DrainOutboxOnClose)
            {
                await WaitOutboxDrainedAsync(connection, deadline.Token).ConfigureAwait(false);
            }

            if (connection is not null)
            {
                await connection.CloseAsync(closeStatus, statusDescription, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or DuplexException)
        {
            connection?.Abort();
        }

        if (supervisor is not null)
        {
            try
            {
                await supervisor.WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                connection?.Abort();
            }
        }

        if (pump is not null)
        {
            try
            {
                await pump.WhenIdleAsync().WaitAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                // A handler has not returned; it must not hold CloseAsync.
            }

            pump.Stop();
        }

        FailOutbox("the client closed before it could be sent");
        lock (_lock)
        {
            _supervisor = null;
        }

        Signal(ClientSignal.Closed);
        if ((_attemptUri ?? _uri) is { } uri)
        {
            Log.ClientClosed(Logger, Redaction.Uri(uri), (int)closeStatus);
        }

        // Completes after the disconnect handlers (and everything dispatched before) have run.
        var dispatched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await PostAsync(new DispatchItem(DispatchKind.EndOfStream, null, dispatched, null, null)).ConfigureAwait(false);
        try
        {
            await dispatched.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            // A handler that does not return must not hold CloseAsync.
        }
    }
}
