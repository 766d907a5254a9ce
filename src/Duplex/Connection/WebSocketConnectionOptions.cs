using Duplex.Handshake;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Duplex.Connection;

/// <summary>
/// Settings of one <see cref="WebSocketConnection"/>. Validated and copied when the connection is
/// created: later changes to this object do not affect it.
/// </summary>
public sealed class WebSocketConnectionOptions
{
    /// <summary>Default <see cref="MaxMessageSize"/>: 1 MiB.</summary>
    public const long DefaultMaxMessageSize = 1024 * 1024;

    /// <summary>
    /// The largest message accepted, in bytes. A bigger one fails the connection with close code
    /// 1009 (message too big) as soon as its frame header announces it. Default 1 MiB.
    /// </summary>
    public long MaxMessageSize { get; set; } = DefaultMaxMessageSize;

    /// <summary>
    /// How often a keepalive Ping is sent; <see cref="Timeout.InfiniteTimeSpan"/> turns keepalive
    /// off. Default 20 seconds.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long to wait for the Pong of a keepalive Ping before the connection is failed with close
    /// code 1011. Default 20 seconds.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long the closing handshake may take (our Close sent, the peer's Close received, the TCP
    /// connection ended by the server) before the socket is closed regardless. Default 10 seconds.
    /// </summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Size of the buffer one network read fills, in bytes. It is rented only while data flows: an
    /// idle connection waits with a zero-byte read and holds no buffer. While reads keep filling it
    /// (data streaming in), the next reads use buffers twice as big, up to 64 KiB; after a read that
    /// empties the socket, reads start again from this size. Default 16 KiB.
    /// </summary>
    public int ReceiveBufferSize { get; set; } = 16 * 1024;

    /// <summary>
    /// How many network reads' worth of received messages are held until the application reads them
    /// (each at most one read buffer of small messages — <see cref="ReceiveBufferSize"/>, or up to
    /// 64 KiB while data streams in — or up to 1 MiB of a large one). When full, reading from the
    /// network pauses (backpressure); nothing is dropped. Default 32.
    /// </summary>
    public int ReceiveQueueCapacity { get; set; } = 32;

    /// <summary>
    /// How many bytes of frames may wait to be written before further sends wait for the network
    /// (control frames never wait). Frames waiting together go out in one write. Default 1 MiB.
    /// With permessage-deflate, the uncompressed copy kept of each compressed message until it is
    /// written (to hand it back if it never is) counts too.
    /// </summary>
    public int SendBufferLimit { get; set; } = 1024 * 1024;

    /// <summary>The clock for keepalive and round-trip times. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where the connection logs. Default: nowhere.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>
    /// How the opening handshake is made: custom headers, subprotocols, TLS, proxy, HTTP version,
    /// open timeout, redirects.
    /// </summary>
    public WebSocketHandshakeOptions Handshake { get; set; } = new();

    /// <summary>
    /// permessage-deflate (RFC 7692): off by default; see <see cref="WebSocketCompressionOptions.Enabled"/>
    /// for why, and docs/compression.md for what it costs.
    /// </summary>
    public WebSocketCompressionOptions Compression { get; set; } = new();

    /// <summary>
    /// Reads the socket on a thread of the connection's own, with blocking calls, instead of through
    /// the runtime's socket engine and the thread pool; for latency-critical applications with few
    /// connections. Default false.
    /// </summary>
    /// <remarks>
    /// <para>
    /// When a message arrives, the waiting receive call (or the client's message handlers) continues on
    /// that thread, which then reads again: one thread wake-up per message instead of the socket
    /// engine's wake-up plus a thread-pool hand-off, and no thread-pool worker spinning between
    /// messages. On a loopback request/response this takes about half the CPU time of the default,
    /// and lower latency (docs/PERFORMANCE.md).
    /// </para>
    /// <para>
    /// The connect, the TLS and HTTP handshakes and every write are blocking calls too: the connect and
    /// handshakes run on a thread of the connect's own; a send made on the receive thread (answering a
    /// message) is written there, any other write by a pool thread, which blocks while the data does
    /// not fit the socket's send buffer (or until the connection ends). Code that runs on the thread and
    /// keeps it for more than about 100 ms does not hold up Pings, Pongs or the closing handshake: a
    /// new thread takes over reading, and the old one ends when that code returns.
    /// </para>
    /// <para>
    /// Applies to <c>ws://</c> and <c>wss://</c> connections made straight to the server over HTTP/1.1
    /// (the lean socket transport). A connection that goes through a proxy, HTTP/2, a custom
    /// <see cref="WebSocketHandshakeOptions.HttpMessageInvoker"/> or <see cref="WebSocketHandshakeOptions.ConnectCallback"/>
    /// runs as by default. Each connection costs a thread while it is open; not for thousands of connections.
    /// </para>
    /// </remarks>
    public bool DedicatedReceiveThread { get; set; }

    /// <summary>The transport that performs the opening handshake; the HTTP stack when null.</summary>
    internal IWebSocketTransport? Transport { get; set; }

    /// <summary>
    /// Fails the connection (1001) when nothing at all arrived for this long; served by the same
    /// timer as keepalive. The resilient client sets it from its own option.
    /// </summary>
    internal TimeSpan SilenceTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>Checks every setting and returns a private copy.</summary>
    internal WebSocketConnectionOptions Snapshot()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageSize, 1, nameof(MaxMessageSize));
        ValidateTimeout(KeepAliveInterval, nameof(KeepAliveInterval));
        ValidateTimeout(KeepAliveTimeout, nameof(KeepAliveTimeout));
        ValidateTimeout(CloseTimeout, nameof(CloseTimeout));
        ValidateTimeout(SilenceTimeout, nameof(SilenceTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveBufferSize, 256, nameof(ReceiveBufferSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveQueueCapacity, 1, nameof(ReceiveQueueCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(SendBufferLimit, 1024, nameof(SendBufferLimit));
        if (TimeProvider is null)
        {
            throw new ArgumentNullException(nameof(TimeProvider));
        }

        if (Logger is null)
        {
            throw new ArgumentNullException(nameof(Logger));
        }

        if (Handshake is null)
        {
            throw new ArgumentNullException(nameof(Handshake));
        }

        if (Compression is null)
        {
            throw new ArgumentNullException(nameof(Compression));
        }

        var copy = (WebSocketConnectionOptions)MemberwiseClone();
        copy.Handshake = Handshake.Clone();
        copy.Compression = Compression.Snapshot();
        return copy;
    }

    internal static void ValidateTimeout(TimeSpan value, string name)
    {
        if (value != Timeout.InfiniteTimeSpan && value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, "The duration must be positive, or Timeout.InfiniteTimeSpan to disable it.");
        }
    }
}
