using System.Collections.Concurrent;
using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Chaos;

/// <summary>
/// The recording server, the fault proxy in front of it, and a resilient client with short keepalive and
/// backoff settings talking through the proxy, with its senders and its state log.
/// </summary>
internal sealed class ChaosRig : IAsyncDisposable
{
    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan KeepAliveTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan InitialDelay = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(1);
    public const double Jitter = 0.2;

    /// <summary>What scheduling on a busy two-core machine may add to any bound.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(2);

    private readonly ManualResetEventSlim _holding = new();
    private long _echoes;

    // A hold the next handler call takes up, and the one it took (released by ReleaseHandler).
    private TaskCompletionSource? _holdArmed;
    private TaskCompletionSource? _hold;

    private ChaosRig(RecordingServer server, FaultInjectingProxy proxy, WebSocketClient client, SenderPool senders)
    {
        Server = server;
        Proxy = proxy;
        Client = client;
        Senders = senders;
        States = new StateLog(client);
        client.OnDisconnected((context, _) =>
        {
            if (context.WillReconnect)
            {
                ReconnectDelays.Enqueue(context.ReconnectDelay);
            }

            return ValueTask.CompletedTask;
        });
        client.OnMessage(async (message, _) =>
        {
            // An application's handler: quick, except when a scenario makes it wait for I/O across the moment
            // the link dies. Meanwhile the client's message pump is in the handler, as in any application that
            // awaits something per message.
            Interlocked.Increment(ref _echoes);
            TaskCompletionSource? hold = Volatile.Read(ref _holdArmed);
            if (hold is not null && Interlocked.CompareExchange(ref _holdArmed, null, hold) == hold)
            {
                _holding.Set();
                await hold.Task;
            }
        });
    }

    public RecordingServer Server { get; }

    public FaultInjectingProxy Proxy { get; }

    public WebSocketClient Client { get; }

    public SenderPool Senders { get; }

    public StateLog States { get; }

    /// <summary>The delay each disconnect announced before the next attempt.</summary>
    public ConcurrentQueue<TimeSpan?> ReconnectDelays { get; } = new();

    /// <summary>Echoes received from the server.</summary>
    public long EchoesReceived => Interlocked.Read(ref _echoes);

    /// <summary>The longest a stall or a drip can take to be noticed: the next Ping, its timeout, the bounded wait to write our Close.</summary>
    public static TimeSpan KeepAliveNoticeBound => KeepAliveInterval + KeepAliveTimeout + CloseTimeout + Margin;

    /// <summary>A reset or FIN is read at once; only scheduling delays the notice.</summary>
    public static TimeSpan PromptNoticeBound => Margin;

    /// <summary>The bound on noticing a fault that struck while the handler was held for <paramref name="hold"/>: the hold, then scheduling.</summary>
    public static TimeSpan HeldNoticeBound(TimeSpan bound, TimeSpan hold) => hold + Margin > bound ? hold + Margin : bound;

    /// <summary>
    /// How long a scenario holds the handler after a fault, so that the link dies while the handler is busy: a
    /// moment for a reset or FIN, past keepalive's latest verdict (Ping, timeout, Close write) for a stall or drip.
    /// </summary>
    public static TimeSpan HandlerHoldAfter(bool keepAliveNotices) =>
        keepAliveNotices ? KeepAliveInterval + KeepAliveTimeout + CloseTimeout + TimeSpan.FromMilliseconds(500) : TimeSpan.FromMilliseconds(200);

    public static async Task<ChaosRig> StartAsync(HostArguments arguments, CancellationToken cancellationToken)
    {
        RecordingServer server = await RecordingServer.StartAsync(cancellationToken);

        // Small kernel buffers on the proxy: a stalled link backs up into the client within moments, as a
        // link that went dark does (nothing is acknowledged), instead of swallowing megabytes on loopback.
        var proxy = new FaultInjectingProxy(server.Port, socketBufferSize: 32 * 1024);
        SenderPool? pool = null;
        var options = new WebSocketClientOptions
        {
            Random = new Random(arguments.Seed),
            MessageDropped = message => pool!.OnDropped(message),
        };
        options.Connection.KeepAliveInterval = KeepAliveInterval;
        options.Connection.KeepAliveTimeout = KeepAliveTimeout;
        options.Connection.CloseTimeout = CloseTimeout;
        options.Reconnect.InitialDelay = InitialDelay;
        options.Reconnect.MaxDelay = MaxDelay;
        options.Reconnect.Jitter = Jitter;
        options.Reconnect.BackoffMultiplier = 2;
        options.Reconnect.ResetAfter = TimeSpan.FromSeconds(3);

        // Room for what arrives while a handler is held for seconds: reading must not pause, or keepalive would
        // (rightly) take a missing Pong for one held up behind unread messages and wait longer.
        options.Connection.ReceiveQueueCapacity = 4096;
        var client = new WebSocketClient(options);
        pool = new SenderPool(client, arguments.Senders, arguments.Interval, arguments.Messages, arguments.Padding);
        return new ChaosRig(server, proxy, client, pool);
    }

    public Task ConnectAsync(CancellationToken cancellationToken) => Client.ConnectAsync(Proxy.GetUri("/record"), cancellationToken: cancellationToken);

    /// <summary>
    /// Makes the next message handler wait until <see cref="ReleaseHandler"/>, and blocks until it does (or
    /// the timeout): the application is busy in a handler, awaiting I/O, from now on.
    /// </summary>
    public bool HoldHandler(TimeSpan timeout)
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _hold = hold;
        _holding.Reset();
        Volatile.Write(ref _holdArmed, hold);
        return _holding.Wait(timeout);
    }

    /// <summary>Lets the held handler go on (its continuation needs a thread-pool thread, like any I/O completion).</summary>
    public void ReleaseHandler()
    {
        Interlocked.Exchange(ref _holdArmed, null);
        _hold?.TrySetResult();
    }

    /// <summary>
    /// Blocks until the application has caught up: its handler has seen the echoes of all but a few hundred of
    /// the messages the server received (or the timeout). A fault that strikes while the handler still works
    /// through a backlog is noticed only after it: the client delivers what a connection received before it
    /// replaces the connection.
    /// </summary>
    public bool WaitCaughtUp(TimeSpan timeout) => Blocking.Until(() => Server.TotalReceived - EchoesReceived < 500, timeout);

    /// <summary>Blocks until at least <paramref name="count"/> sends have been accepted, or the timeout.</summary>
    public bool WaitAccepted(long count, TimeSpan timeout) => Blocking.Until(() => Senders.AcceptedCount >= count, timeout);

    /// <summary>Closes the client cleanly (bounded), then disposes everything; blocks. Never throws.</summary>
    public void CloseAndDispose(TimeSpan timeout)
    {
        // Whatever the close leaves is aborted by the disposal.
        Blocking.Quietly(Client.CloseAsync(), timeout);
        Blocking.Quietly(DisposeAsync().AsTask(), timeout + timeout);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Proxy.DisposeAsync();
        await Server.DisposeAsync();
    }
}
