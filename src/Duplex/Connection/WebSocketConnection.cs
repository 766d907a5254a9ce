using System.Net.WebSockets;
using Duplex.Connection.Liveness;
using Duplex.Connection.Receive;
using Duplex.Connection.Send;
using Duplex.Diagnostics;
using Duplex.Handshake;
using Duplex.Protocol;
using Microsoft.Extensions.Logging;

namespace Duplex.Connection;

/// <summary>
/// One live WebSocket connection (RFC 6455) over a duplex <see cref="Stream"/>: Duplex's own
/// framing engine. It owns a single receive loop, so Pongs, keepalive and the closing handshake
/// never depend on the application calling receive; every frame it sends (messages, Pongs, Pings,
/// Close) goes through one write path that never interleaves frames and writes frames that queue up
/// behind each other in one network write.
/// </summary>
/// <remarks>
/// <para>Thread safety: sends, pings and close may be called from any number of threads at once.
/// One receive call (<see cref="ReceiveAsync"/> or <see cref="ReceiveMessageAsync"/>) may be
/// outstanding at a time.</para>
/// <para>Cancellation: cancelling a receive or a ping leaves the connection open. Cancelling a send
/// that is still waiting for buffer space removes it; a send completes once its frame is buffered.</para>
/// </remarks>
public sealed partial class WebSocketConnection : IAsyncDisposable, IDisposable
{
    // The one setting read after the connection opened, copied out of the options: an open connection
    // keeps no options object (the sender and the timer take theirs when it opens).
    private readonly TimeSpan _closeTimeout;

    // What ConnectAsync and the opening need (the handshake settings, the transport, the send limit and
    // keepalive); released once open.
    private WebSocketConnectionOptions? _connectOptions;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // The parts, each owning its state: the write path, the one timer, the pending Pings (the receive
    // side's are declared in WebSocketConnection.Receive.cs). Created when the connection opens (the
    // pings with the first Ping).
    private FrameSender? _sender;
    private LivenessTimer? _liveness;
    private PendingPings? _pings;

    // The life cycle. _stateLock guards what follows; no other lock is taken while holding it.
    private readonly object _stateLock = new();
    private WebSocketConnectionState _state;
    private CloseHandshake? _closing; // created with the first Close frame, sent or received
    private CancellationTokenSource? _abort; // only for streams whose disposal may not end a pending read
    private TaskCompletionSource? _closed; // created when someone asks for Completion
    private TaskCompletionSource? _endSignal; // the resilient client's, completed with Completion
    private bool _completed;
    private Stream? _stream;
    private IAsyncDisposable? _handshake;
    private bool _disposingStreamEndsReads;
    private Task _receiveLoop = Task.CompletedTask;
    private Exception? _terminalError;
    private bool _tornDown;
    private bool _connecting;

    /// <summary>Creates a connection that is not connected yet; call <c>ConnectAsync</c>.</summary>
    /// <param name="options">Settings; null for the defaults. Copied: later changes have no effect.</param>
    public WebSocketConnection(WebSocketConnectionOptions? options = null)
    {
        WebSocketConnectionOptions settings = (options ?? new WebSocketConnectionOptions()).Snapshot();
        _connectOptions = settings;
        _time = settings.TimeProvider;
        _logger = settings.Logger;
        _closeTimeout = settings.CloseTimeout;
        _incoming = new ReceiveQueue(settings.ReceiveQueueCapacity);
        _receiver = new FrameReceiver(this, _incoming, _time, settings.MaxMessageSize, settings.ReceiveBufferSize);
        _state = WebSocketConnectionState.Connecting;
    }

    /// <summary>
    /// Runs the client side of an already established WebSocket connection over
    /// <paramref name="stream"/> (for example a stream whose handshake was done elsewhere, or an
    /// in-memory pipe). The connection owns the stream from now on.
    /// </summary>
    /// <param name="stream">A readable and writable stream positioned right after the opening handshake.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    /// <returns>An open connection.</returns>
    public static WebSocketConnection FromStream(Stream stream, WebSocketConnectionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead || !stream.CanWrite)
        {
            throw new ArgumentException("The stream must be readable and writable.", nameof(stream));
        }

        var connection = new WebSocketConnection(options);
        connection.Start(stream, subProtocol: null);
        return connection;
    }

    /// <summary>
    /// Opens the connection: performs the opening handshake with <paramref name="uri"/> using
    /// <see cref="WebSocketConnectionOptions.Handshake"/>, then starts the framing engine.
    /// </summary>
    /// <param name="uri">A <c>ws://</c> or <c>wss://</c> URI (<c>http</c>/<c>https</c> accepted as aliases).</param>
    /// <param name="cancellationToken">Cancels the connect.</param>
    /// <exception cref="WebSocketHandshakeRejectedException">The server refused the upgrade; status, headers and body are in the exception.</exception>
    /// <exception cref="WebSocketConnectException">The connect failed; <see cref="WebSocketConnectException.Error"/> says why.</exception>
    /// <exception cref="InvalidOperationException">The connection was already started.</exception>
    public async Task ConnectAsync(Uri uri, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        lock (_stateLock)
        {
            if (_state != WebSocketConnectionState.Connecting || _connecting)
            {
                throw new InvalidOperationException("ConnectAsync can be called once per connection.");
            }

            _connecting = true;
        }

        WebSocketConnectionOptions settings = _connectOptions!;
        PerMessageDeflateOffer? deflateOffer = OfferCompression(settings);
        IWebSocketTransport transport = settings.Transport ?? WebSocketTransportSelector.Choose(uri, settings.Handshake, settings.DedicatedReceiveThread);
        WebSocketHandshakeResult result;
        try
        {
            result = await transport.ConnectAsync(uri, settings.Handshake, _logger, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // A connection whose handshake failed is finished; it cannot be connected again.
            Teardown(ex as DuplexException);
            throw;
        }

        lock (_stateLock)
        {
            // Only a result that keeps more than the stream alive needs disposing at teardown.
            _handshake = result.OwnsMoreThanStream ? result : null;
        }

        HandshakeResponse = result.Response;
        _disposingStreamEndsReads = result.DisposingStreamEndsReads;
        if (deflateOffer?.Agreed is { } agreed)
        {
            UseCompression(agreed, settings.Compression, settings.MaxMessageSize);
        }

        Start(result.Stream, result.Response.SubProtocol, result.Blocking);
    }

    /// <summary>What the server answered to the opening handshake; null for <see cref="FromStream"/> connections.</summary>
    public WebSocketHandshakeResponse? HandshakeResponse { get; private set; }

    /// <summary>The connection's place in its life cycle.</summary>
    public WebSocketConnectionState State
    {
        get
        {
            lock (_stateLock)
            {
                return _state;
            }
        }
    }

    /// <summary>The close status the peer sent, once its Close frame arrived (null if it sent none).</summary>
    public WebSocketCloseStatus? RemoteCloseStatus => ReadClosing(static c => c.RemoteStatus);

    /// <summary>The close reason the peer sent, once its Close frame arrived.</summary>
    public string? RemoteCloseStatusDescription => ReadClosing(static c => c.RemoteReason);

    /// <summary>The close status this side sent, once its Close frame went out.</summary>
    public WebSocketCloseStatus? LocalCloseStatus => ReadClosing(static c => c.LocalStatus);

    /// <summary>The close reason this side sent.</summary>
    public string? LocalCloseStatusDescription => ReadClosing(static c => c.LocalReason);

    /// <summary>The subprotocol the server chose, if any.</summary>
    public string? SubProtocol { get; private set; }

    /// <summary>
    /// Why the connection ended abnormally (lost, failed by a protocol violation, keepalive timeout,
    /// aborted); null while open or after a clean close.
    /// </summary>
    public Exception? CloseError
    {
        get
        {
            lock (_stateLock)
            {
                return _terminalError;
            }
        }
    }

    /// <summary>Completes when the connection is closed and its socket released, whatever the cause.</summary>
    public Task Completion
    {
        get
        {
            lock (_stateLock)
            {
                return _completed ? Task.CompletedTask : (_closed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }
        }
    }

    /// <summary>
    /// Completes <paramref name="signal"/> when <see cref="Completion"/> completes (at once if it has): lets
    /// the resilient client wait for this end or its own on one task, with nothing more allocated.
    /// </summary>
    internal void SignalOnEnd(TaskCompletionSource signal)
    {
        lock (_stateLock)
        {
            if (!_completed)
            {
                _endSignal = signal;
                return;
            }
        }

        signal.TrySetResult();
    }

    /// <summary>The receive loop; it ends once the connection is torn down (tests check that nothing is left reading).</summary>
    internal Task ReceiveLoop => _receiveLoop;

    private bool IsTornDown
    {
        get
        {
            lock (_stateLock)
            {
                return _tornDown;
            }
        }
    }

    /// <summary>Cancelled at teardown; none where disposing the stream already ends every pending operation.</summary>
    private CancellationToken AbortToken => _abort?.Token ?? CancellationToken.None;

    /// <summary>Whether the connection is open (not connecting, closing or closed); for the liveness timer.</summary>
    internal bool IsOpen => State == WebSocketConnectionState.Open;

    /// <summary>Where the connection logs; for its parts.</summary>
    internal ILogger Logger => _logger;

    private T? ReadClosing<T>(Func<CloseHandshake, T?> read)
    {
        lock (_stateLock)
        {
            return _closing is null ? default : read(_closing);
        }
    }

    /// <summary>Closes the socket at once, without a closing handshake. Pending operations fail.</summary>
    public void Abort() =>
        Teardown(new WebSocketClosedException("The connection was aborted.", (WebSocketCloseStatus)1006, "aborted", closedByPeer: false));

    /// <summary>Same as <see cref="Abort"/>.</summary>
    public void Dispose() => Abort();

    /// <summary>
    /// Closes cleanly (status 1000) if the connection is open, bounded by the close timeout, then
    /// releases the socket. Never throws.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (State is WebSocketConnectionState.Open or WebSocketConnectionState.Closing)
            {
                await CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is DuplexException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // Disposal is best effort; the socket is released below whatever happened.
        }
        finally
        {
            Abort();
        }
    }

    private void Start(Stream stream, string? subProtocol, bool blocking = false)
    {
        WebSocketConnectionOptions settings;
        lock (_stateLock)
        {
            if (_state != WebSocketConnectionState.Connecting)
            {
                throw new InvalidOperationException("The connection has already been started.");
            }

            _stream = stream;
            SubProtocol = subProtocol;

            // The request's headers and TLS settings are not needed any more; an idle connection
            // should not keep them.
            settings = _connectOptions!;
            _connectOptions = null;
            if (!_disposingStreamEndsReads)
            {
                _abort = new CancellationTokenSource();
            }

            _sender = new FrameSender(this, stream, AbortToken, settings.SendBufferLimit, _deflater, blocking);
            _state = WebSocketConnectionState.Open;
        }

        _receiver.MarkReceived();
        Log.ConnectionOpened(_logger, Log.Shown(subProtocol));
        _receiveLoop = blocking ? _receiver.RunOnThreadAsync(stream, AbortToken, _logger) : _receiver.RunAsync(stream, AbortToken);
        StartLiveness(settings);
    }

    private void StartLiveness(WebSocketConnectionOptions settings)
    {
        LivenessTimer? liveness = LivenessTimer.Start(this, _time, settings.KeepAliveInterval, settings.KeepAliveTimeout, settings.SilenceTimeout);
        bool stop;
        lock (_stateLock)
        {
            // Torn down meanwhile (the peer may have gone at once): no timer outlives the connection.
            stop = _tornDown;
            _liveness = stop ? null : liveness;
        }

        if (stop)
        {
            liveness?.Stop();
        }
    }

    /// <summary>
    /// Fails the connection (RFC 6455 §7.1.7): sends a Close frame with <paramref name="status"/>
    /// when one can still be sent, waits a bounded time for it to be written, then closes the socket.
    /// Never throws.
    /// </summary>
    internal async Task FailAsync(WebSocketCloseStatus? status, string? reason, Exception error, TimeSpan? closeWriteTimeout = null)
    {
        if (!TryBeginFail(status, reason, error, out long ticket))
        {
            return;
        }

        try
        {
            if (ticket != 0)
            {
                using var timeout = new CancellationTokenSource(closeWriteTimeout ?? ShortTimeout(_closeTimeout), _time);
                await _sender!.WaitWrittenAsync(ticket, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is DuplexException or InvalidOperationException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The socket is closed below anyway.
        }

        Teardown(error);
    }

    /// <summary>
    /// The first step of failing the connection, taken at once on the caller's thread: records
    /// <paramref name="error"/> as how the connection ended (from now on receive calls that find nothing
    /// queued throw it) and queues our Close frame behind everything already sent, after which nothing
    /// more can be sent. False when the connection was already failed or torn down. The Close frame's
    /// ticket is 0 when none was queued (no <paramref name="status"/>, or one was sent already).
    /// </summary>
    private bool TryBeginFail(WebSocketCloseStatus? status, string? reason, Exception error, out long closeTicket)
    {
        closeTicket = 0;
        lock (_stateLock)
        {
            if (_tornDown || _terminalError is not null)
            {
                return false;
            }

            _terminalError = error;
        }

        if (status is { } code)
        {
            try
            {
                closeTicket = TryQueueClose(code, reason);
            }
            catch (Exception ex) when (ex is DuplexException or InvalidOperationException or IOException or ObjectDisposedException)
            {
                // The socket is closed anyway.
            }
        }

        return true;
    }

    /// <summary>
    /// Fails the connection because something expected did not happen in time (a Pong, any traffic):
    /// sends a Close with <paramref name="status"/> and <paramref name="reason"/>, and ends with a
    /// <see cref="WebSocketClosedException"/> saying <paramref name="message"/>, caused by a
    /// <see cref="TimeoutException"/>. Never throws.
    /// </summary>
    internal void FailOnTimeout(WebSocketCloseStatus status, string reason, string message)
    {
        // The peer is presumed gone: our Close gets a second at most to be written (behind whatever the
        // link did not take), so the end is noticed — and the client reconnects — soon after the timeout.
        var error = new WebSocketClosedException(message, status, reason, closedByPeer: false, new TimeoutException(message));
        _ = FailAsync(status, reason, error, TimeoutCloseWrite);
    }

    /// <summary>
    /// Releases everything exactly once: the socket, the keepalive timer, and every waiter (receivers see
    /// the end of the stream, pings and sends fail with <paramref name="error"/> or a closed error).
    /// </summary>
    private void Teardown(Exception? error)
    {
        Stream? stream;
        IAsyncDisposable? handshake;
        lock (_stateLock)
        {
            if (_tornDown)
            {
                return;
            }

            _tornDown = true;
            _terminalError ??= error;
            error = _terminalError;
            _state = WebSocketConnectionState.Closed;
            stream = _stream;
            handshake = _handshake;
        }

        try
        {
            _abort?.Cancel();
        }
        catch (AggregateException)
        {
            // A registration callback failed; the teardown goes on.
        }

        stream?.Dispose();
        TakeFrameBack();
        Volatile.Read(ref _violation)?.Abandon();

        // Releases what the handshake kept alive for the stream (the HTTP response, a private handler).
        _ = handshake?.DisposeAsync().AsTask();
        Volatile.Read(ref _liveness)?.Stop();
        // Each waiter gets an exception of its own, with the shared cause inside.
        Exception closed = error ?? ClosedByHandshake("The WebSocket connection is closed.");
        Volatile.Read(ref _pings)?.FailAll(() => ClosedForSending(null));
        Volatile.Read(ref _sender)?.End(closed);
        _incoming.Complete();
        ReleaseCompressionState();
        // A connection whose handshake failed never opened: the connect reports that, not a loss.
        if (stream is not null)
        {
            if (error is not null && error is not WebSocketProtocolException)
            {
                Log.ConnectionLost(_logger, error);
            }

            Log.ConnectionClosed(_logger, Log.Shown(LocalCloseStatus), Log.Shown(RemoteCloseStatus), Log.Shown(RemoteCloseStatusDescription));
        }
        TaskCompletionSource? closedSignal;
        TaskCompletionSource? endSignal;
        lock (_stateLock)
        {
            _completed = true;
            closedSignal = _closed;
            endSignal = _endSignal;
        }

        closedSignal?.TrySetResult();
        endSignal?.TrySetResult();
    }

    /// <summary>How long a connection failed for a timeout waits for its Close frame to be written.</summary>
    private static readonly TimeSpan TimeoutCloseWrite = TimeSpan.FromSeconds(1);

    /// <summary>A timeout no longer than a few seconds, for waits that only matter on a healthy link.</summary>
    private static TimeSpan ShortTimeout(TimeSpan configured) =>
        configured == Timeout.InfiniteTimeSpan || configured > TimeSpan.FromSeconds(5) ? TimeSpan.FromSeconds(5) : configured;

    /// <summary>The error for an operation attempted after a closing handshake began.</summary>
    internal WebSocketClosedException ClosedByHandshake(string message)
    {
        lock (_stateLock)
        {
            return _closing?.ClosedError(message) ?? new WebSocketClosedException(message, null, null, closedByPeer: false);
        }
    }

    /// <summary>
    /// The error for a send, Ping or wait that can no longer succeed: what ended the connection (or
    /// failed its write, <paramref name="sendError"/>), wrapped in an exception of the caller's own, since
    /// one instance thrown to many waiters would have its stack trace overwritten by each.
    /// </summary>
    internal WebSocketClosedException ClosedForSending(Exception? sendError)
    {
        Exception? cause = sendError ?? CloseError;
        return cause switch
        {
            WebSocketClosedException closed => new WebSocketClosedException(closed.Message, closed.CloseStatus, closed.CloseDescription, closed.ClosedByPeer, closed),
            WebSocketProtocolException protocol => new WebSocketClosedException("The connection was failed after a protocol violation.", protocol.CloseStatus, protocol.Message, closedByPeer: false, protocol),
            null => ClosedByHandshake("The WebSocket connection is closed."),
            _ => LostConnection(cause),
        };
    }

    /// <summary>The writer's write failed: the connection is lost, unless it was ending anyway.</summary>
    internal void OnWriteFailed(Exception error) => Teardown(IsTornDown ? null : LostConnection(error));

    private static WebSocketClosedException LostConnection(Exception? cause) =>
        new("The connection was lost without a closing handshake.", (WebSocketCloseStatus)1006, null, closedByPeer: true, cause);
}
