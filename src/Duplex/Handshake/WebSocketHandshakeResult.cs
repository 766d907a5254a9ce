namespace Duplex.Handshake;

/// <summary>
/// An opened WebSocket transport: the duplex stream the frames travel over, what the server
/// answered, and whatever must stay alive as long as the stream does.
/// </summary>
/// <remarks>
/// Disposing the result closes the connection (without a WebSocket closing handshake — that is the
/// Connection layer's job, done before). Disposal is idempotent and never throws.
/// </remarks>
internal sealed class WebSocketHandshakeResult : IAsyncDisposable
{
    private readonly IDisposable? _response;
    private readonly IDisposable? _ownedInvoker;
    private int _disposed;

    /// <summary>Creates a result.</summary>
    /// <param name="stream">The duplex stream, readable and writable.</param>
    /// <param name="response">What the server answered.</param>
    /// <param name="responseMessage">The HTTP response the stream belongs to, disposed after the stream.</param>
    /// <param name="ownedInvoker">An invoker created for this connection alone, disposed last; <see langword="null"/> when shared.</param>
    public WebSocketHandshakeResult(Stream stream, WebSocketHandshakeResponse response, IDisposable? responseMessage = null, IDisposable? ownedInvoker = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(response);
        Stream = stream;
        Response = response;
        _response = responseMessage;
        _ownedInvoker = ownedInvoker;
    }

    /// <summary>
    /// The duplex stream: for HTTP/1.1 the content stream of the 101 response (the raw connection),
    /// for HTTP/2 the extended-CONNECT stream. Reads return the server's frames; writes send ours.
    /// </summary>
    public Stream Stream { get; }

    /// <summary>What the server answered.</summary>
    public WebSocketHandshakeResponse Response { get; }

    /// <summary>
    /// Whether disposing <see cref="Stream"/> ends a read pending on it (true for a socket's own
    /// stream), so a reader needs no cancellation token — and no registration kept while idle — to be
    /// woken at teardown.
    /// </summary>
    public bool DisposingStreamEndsReads { get; init; }

    /// <summary>
    /// Whether every call on <see cref="Stream"/> blocks and completes synchronously: a socket that
    /// never met the runtime's socket engine (<see cref="Transports.BlockingNetworkStream"/>, perhaps
    /// under TLS), which the connection then reads on a thread of its own.
    /// </summary>
    public bool Blocking { get; init; }

    /// <summary>Whether the result keeps anything alive besides <see cref="Stream"/>; when not, disposing the stream is enough.</summary>
    public bool OwnsMoreThanStream => _response is not null || _ownedInvoker is not null;

    /// <summary>Closes the stream, then releases the response and any connection-owned invoker.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await Stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Closing an already broken connection may fail; dispose never throws.
        }

        try
        {
            _response?.Dispose();
            _ownedInvoker?.Dispose();
        }
        catch (Exception)
        {
            // As above: nothing useful can be done with a failure to release.
        }
    }
}
