using System.Text.Json;
using Duplex.Connection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Duplex.Client;

/// <summary>
/// Settings of a <see cref="WebSocketClient"/>, validated when the client is created (a bad value
/// throws an <see cref="ArgumentException"/> naming the option) and copied: later changes to this
/// object do not affect the client.
/// </summary>
public sealed class WebSocketClientOptions
{
    /// <summary>
    /// Settings of every connection the client opens: handshake (static headers, subprotocols, TLS,
    /// proxy, HTTP version, open timeout), maximum message size, keepalive (a Ping every 20 s, fail
    /// after 20 s without Pong by default), close timeout.
    /// </summary>
    public WebSocketConnectionOptions Connection { get; set; } = new();

    /// <summary>
    /// Produces headers before every connect and reconnect (for example a fresh access token). Its
    /// headers are added to the static ones, replacing those of the same name. A 401 answer to a
    /// handshake made with these headers is retried once with headers produced again.
    /// </summary>
    public Func<CancellationToken, ValueTask<IReadOnlyDictionary<string, string>>>? HeadersFactory { get; set; }

    /// <summary>
    /// Produces the URI of every connect attempt, first connect and reconnects alike (for example a
    /// fresh token in the query, or the next of several endpoints); null (the default) connects to
    /// the URI given to <see cref="WebSocketClient.ConnectAsync(Uri, IReadOnlyDictionary{string, string}?, Handshake.WebSocketTlsOptions?, CancellationToken)"/>,
    /// which the context carries. Called before the headers are produced; a 401 answer is retried once
    /// with the URI (and headers) produced again. Logs show the URI with its secrets masked.
    /// </summary>
    /// <remarks>
    /// The result must be an absolute <c>ws</c>, <c>wss</c>, <c>http</c> or <c>https</c> URI with a
    /// host and no fragment; anything else, or null, fails the attempt with an
    /// <see cref="InvalidOperationException"/> naming this option, which is never retried. An exception
    /// the factory throws fails the attempt like a network error (retried by the reconnect policy),
    /// except <see cref="ArgumentException"/> and <see cref="InvalidOperationException"/>.
    /// </remarks>
    public Func<WebSocketUriContext, CancellationToken, ValueTask<Uri>>? UriFactory { get; set; }

    /// <summary>Reconnect behaviour: on by default, exponential backoff with jitter.</summary>
    public WebSocketReconnectOptions Reconnect { get; set; } = new();

    /// <summary>
    /// How many messages may wait in the outbox while the client is not connected. Default 1024.
    /// </summary>
    public int OutboxCapacity { get; set; } = 1024;

    /// <summary>What a send does when the outbox is full. Default <see cref="OutboxOverflowPolicy.Wait"/>.</summary>
    public OutboxOverflowPolicy OutboxOverflow { get; set; } = OutboxOverflowPolicy.Wait;

    /// <summary>Receives every message the outbox drops (<see cref="OutboxOverflowPolicy.DropOldest"/>) or cannot send before the client closes.</summary>
    public Action<WebSocketOutgoingMessage>? MessageDropped { get; set; }

    /// <summary>Whether <see cref="WebSocketClient.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus, string?, CancellationToken)"/> first sends what waits in the outbox (bounded by the close timeout). Default true.</summary>
    public bool DrainOutboxOnClose { get; set; } = true;

    /// <summary>
    /// How many received messages may wait for each <see cref="WebSocketClient.ReadAllAsync"/> reader.
    /// While a reader is behind, delivery waits, and with it reading from the network (nothing is
    /// dropped; Pongs and keepalive go on). Messages waiting for the handlers are bounded by the
    /// connection's <see cref="WebSocketConnectionOptions.ReceiveQueueCapacity"/>. Default 256.
    /// </summary>
    public int ReaderQueueCapacity { get; set; } = 256;

    /// <summary>
    /// When nothing at all (no message, no Pong) arrives for this long, the connection is considered
    /// dead and replaced (close status 1001). Time during which reading waits for the handlers (the
    /// connection's receive queue is full) is not counted against the server. Served by the connection's
    /// keepalive timer. <see cref="Timeout.InfiniteTimeSpan"/> (the default) turns it off.
    /// </summary>
    public TimeSpan SilenceTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// How long one received message may take through the message handlers (and the
    /// <see cref="WebSocketClient.ReadAllAsync"/> readers) before a Warning is logged (event
    /// <c>SlowMessageHandler</c>, while it still runs, so a handler that never returns is reported too;
    /// then <c>SlowMessageHandlerReturned</c> with the duration once it returns). Messages are delivered
    /// one at a time, so later ones wait behind a slow one. A message that follows another without a
    /// wait is timed from the watch's first sight of it (it looks four times per threshold), so its
    /// figures can be short by up to a quarter of the threshold; nothing is ever reported early. Default 1 second;
    /// <see cref="Timeout.InfiniteTimeSpan"/> turns the watch off.
    /// </summary>
    public TimeSpan SlowHandlerThreshold { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long <see cref="WebSocketClient.PingAsync(ReadOnlyMemory{byte}, TimeSpan?, CancellationToken)"/> waits for a Pong by default. Default 10 seconds.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Options for the reflection-based JSON helpers (<c>SendJsonAsync(value)</c> and
    /// <see cref="WebSocketClientMessage.Deserialize{T}(JsonSerializerOptions?)"/>); null (the default)
    /// for <see cref="JsonSerializerOptions.Web"/>, as <c>HttpClient</c>'s JSON helpers use: camelCase
    /// property names, case-insensitive reading, numbers allowed as strings. The source-generated
    /// (<c>JsonTypeInfo</c>) overloads use the options of their context; give it web defaults with
    /// <c>[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]</c>.
    /// </summary>
    public JsonSerializerOptions? JsonSerializerOptions { get; set; }

    /// <summary>Where the client and its connections log. Default: nowhere.</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>
    /// Whether a handler's exception that nothing else would show is written to standard error. A
    /// handler failure always goes to the <c>OnError</c> handlers (and an <c>OnErrorAsync</c> override)
    /// and is logged as an Error; when there is no error handler, no override and no logger enabled for
    /// Error, the client writes its first such failure to standard error, in one line naming
    /// <c>OnError</c>, so that it is never invisible. Default true; false leaves standard error alone.
    /// </summary>
    public bool WriteUnobservedHandlerErrors { get; set; } = true;

    /// <summary>The clock for backoff, keepalive and timeouts. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The source of reconnect jitter. Default <see cref="Random.Shared"/>.</summary>
    public Random Random { get; set; } = Random.Shared;

    internal WebSocketClientOptions Snapshot()
    {
        if (Connection is null)
        {
            throw new ArgumentNullException(nameof(Connection));
        }

        if (Reconnect is null)
        {
            throw new ArgumentNullException(nameof(Reconnect));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(OutboxCapacity, 1, nameof(OutboxCapacity));
        if (!Enum.IsDefined(OutboxOverflow))
        {
            throw new ArgumentOutOfRangeException(nameof(OutboxOverflow), OutboxOverflow, "Unknown overflow policy.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(ReaderQueueCapacity, 1, nameof(ReaderQueueCapacity));
        WebSocketConnectionOptions.ValidateTimeout(SilenceTimeout, nameof(SilenceTimeout));
        WebSocketConnectionOptions.ValidateTimeout(PingTimeout, nameof(PingTimeout));
        WebSocketConnectionOptions.ValidateTimeout(SlowHandlerThreshold, nameof(SlowHandlerThreshold));
        ArgumentNullException.ThrowIfNull(Logger, nameof(Logger));
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
        ArgumentNullException.ThrowIfNull(Random, nameof(Random));

        var copy = (WebSocketClientOptions)MemberwiseClone();
        copy.Reconnect = Reconnect.Snapshot();

        // Every connection shares the client's clock and logger.
        WebSocketConnectionOptions connection = Connection.Snapshot();
        connection.TimeProvider = TimeProvider;
        connection.Logger = Logger;
        copy.Connection = connection;
        return copy;
    }
}
