using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// The scenarios themselves, for one client library, run in the current process: the runner's own
/// process in the default mode, a <c>client</c> child process with <c>--process-per-client</c>
/// (see <see cref="ClientProcess"/>). Each timed loop starts after a full collection, so one
/// loop's garbage is not collected on the next one's time.
/// </summary>
internal sealed class ScenarioHost : IScenarioHost
{
    private readonly Uri _base;
    private readonly X509Certificate2? _serverCertificate;
    private readonly string _text;
    private readonly byte[] _binary;
    private ILoopbackClient? _echo;

    /// <param name="kind">The client library.</param>
    /// <param name="baseUri">The server, <c>ws://127.0.0.1:PORT</c> or <c>wss://</c>.</param>
    /// <param name="serverCertificate">Over TLS, the one certificate the client trusts.</param>
    /// <param name="messageSize">Characters of the S1–S3 texts.</param>
    /// <param name="binarySize">Bytes of an S4 message.</param>
    public ScenarioHost(ClientKind kind, Uri baseUri, X509Certificate2? serverCertificate, int messageSize, int binarySize)
    {
        Kind = kind;
        _base = baseUri;
        _serverCertificate = serverCertificate;
        _text = new string('x', messageSize);
        _binary = new byte[binarySize];
        new Random(42).NextBytes(_binary);
    }

    public ClientKind Kind { get; }

    /// <summary>Round trips per block of the text warm-up's settling (see <see cref="WarmAsync"/>).</summary>
    private const int SettlingBlock = 5_000;

    private const int MaxSettlingBlocks = 12;

    /// <summary>The fewest warm-up floods of S1 and S2 (see <see cref="SettleAsync"/>).</summary>
    private const int MinSettlingFloods = 6;

    /// <summary>
    /// The pause after each warm-up flood: longer than the tiered compiler's call-counting delay (100 ms),
    /// with time to compile what was promoted.
    /// </summary>
    private static readonly TimeSpan SettlingPause = TimeSpan.FromMilliseconds(300);

    public async Task WarmAsync(WarmUp warmUp, CancellationToken cancellationToken)
    {
        // Tiered compilation goes on compiling a flood's methods for millions of messages after start: a
        // flood keeps both cores busy, so the background compiler hardly runs, and each new connection's
        // start-up postpones it again (the client layer's S1 ran at 1–2 µs CPU per message for 2 M messages,
        // 0.25–0.4 µs once compiled). Repeat each flood with a pause after it, in which the compiler catches up,
        // until two in a row compile nothing (at least MinSettlingFloods, at most MaxSettlingBlocks).
        if (warmUp.Received > 0)
        {
            await SettleAsync(() => ReceiveAsync(warmUp.Received, cancellationToken));
        }

        if (warmUp.Sent > 0)
        {
            await SettleAsync(() => SendAsync(warmUp.Sent, cancellationToken));
        }

        if (warmUp.TextRoundTrips > 0 || warmUp.BinaryRoundTrips > 0)
        {
            await using ILoopbackClient client = ClientCatalog.Create(Kind, _serverCertificate);
            await client.ConnectAsync(new Uri(_base, "/echo"), cancellationToken);
            await EchoBlockAsync(() => client.EchoTextAsync(_text, cancellationToken), _text.Length, "characters", new long[warmUp.TextRoundTrips]);
            if (warmUp.TextRoundTrips > 0)
            {
                // Tiered compilation keeps compiling the round trip's methods for tens of thousands of
                // round trips after start, on a thread whose CPU time counts against the client: go on
                // until a block compiles nothing (bounded).
                for (int block = 0; block < MaxSettlingBlocks; block++)
                {
                    long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
                    await EchoBlockAsync(() => client.EchoTextAsync(_text, cancellationToken), _text.Length, "characters", new long[SettlingBlock]);
                    if (System.Runtime.JitInfo.GetCompiledMethodCount() == compiled)
                    {
                        break;
                    }
                }
            }

            await EchoBlockAsync(() => client.EchoBinaryAsync(_binary, cancellationToken), _binary.Length, "bytes", new long[warmUp.BinaryRoundTrips]);
            await CloseAsync(client, cancellationToken);
        }
    }

    /// <summary>
    /// Runs <paramref name="flood"/> at least <see cref="MinSettlingFloods"/> times and until two runs in a row
    /// compile no method, at most <see cref="MaxSettlingBlocks"/> times, pausing after each so the tiered
    /// compiler's background work is done before the next.
    /// </summary>
    private static async Task SettleAsync(Func<Task<Meter.Reading>> flood)
    {
        int quiet = 0;
        for (int block = 0; block < MaxSettlingBlocks && (quiet < 2 || block < MinSettlingFloods); block++)
        {
            long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            await flood();
            await Task.Delay(SettlingPause);
            quiet = System.Runtime.JitInfo.GetCompiledMethodCount() == compiled ? quiet + 1 : 0;
        }
    }

    /// <summary>S1: the server pushes N texts after the handshake; timed from connect to the last message.</summary>
    public async Task<Meter.Reading> ReceiveAsync(int count, CancellationToken cancellationToken)
    {
        Collect();
        await using ILoopbackClient client = ClientCatalog.Create(Kind, _serverCertificate);
        client.ExpectPushed(count);
        var uri = new Uri(_base, string.Create(CultureInfo.InvariantCulture, $"/push?count={count}&size={_text.Length}"));
        var meter = Meter.Start();
        await client.ConnectAsync(uri, cancellationToken);
        long chars = await client.ReceiveTextsAsync(count, cancellationToken);
        Meter.Reading reading = meter.Stop(count);
        Check(chars == (long)count * _text.Length, $"received {chars} characters, expected {(long)count * _text.Length}");
        await CloseAsync(client, cancellationToken);
        return reading;
    }

    /// <summary>S2: N awaited sends to the sink, then "done"; the server's count must match.</summary>
    public async Task<Meter.Reading> SendAsync(int count, CancellationToken cancellationToken)
    {
        Collect();
        await using ILoopbackClient client = ClientCatalog.Create(Kind, _serverCertificate);
        await client.ConnectAsync(new Uri(_base, "/sink"), cancellationToken);
        var meter = Meter.Start();
        long counted = await client.SendTextsAsync(_text, count, cancellationToken);
        Meter.Reading reading = meter.Stop(count);
        Check(counted == count, $"the server counted {counted} messages, expected {count}");
        await CloseAsync(client, cancellationToken);
        return reading;
    }

    public async Task OpenEchoAsync(CancellationToken cancellationToken)
    {
        if (_echo is not null)
        {
            throw new InvalidOperationException("The echo connection is already open.");
        }

        _echo = ClientCatalog.Create(Kind, _serverCertificate);
        await _echo.ConnectAsync(new Uri(_base, "/echo"), cancellationToken);
    }

    public Task<EchoBlock> EchoTextBlockAsync(int count, CancellationToken cancellationToken)
    {
        ILoopbackClient client = EchoClient();
        return TimedEchoBlockAsync(() => client.EchoTextAsync(_text, cancellationToken), _text.Length, "characters", count);
    }

    public Task<EchoBlock> EchoBinaryBlockAsync(int count, CancellationToken cancellationToken)
    {
        ILoopbackClient client = EchoClient();
        return TimedEchoBlockAsync(() => client.EchoBinaryAsync(_binary, cancellationToken), _binary.Length, "bytes", count);
    }

    public async Task CloseEchoAsync(CancellationToken cancellationToken)
    {
        ILoopbackClient? client = _echo;
        _echo = null;
        if (client is not null)
        {
            try
            {
                await CloseAsync(client, cancellationToken);
            }
            finally
            {
                await client.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_echo is { } client)
        {
            _echo = null;
            await client.DisposeAsync();
        }
    }

    private ILoopbackClient EchoClient() => _echo ?? throw new InvalidOperationException("The echo connection is not open.");

    private static async Task<EchoBlock> TimedEchoBlockAsync(Func<ValueTask<int>> roundTrip, int expected, string unit, int count)
    {
        // The array is made before the meter starts: its bytes are not the client's.
        long[] ticks = new long[count];
        Collect();
        var meter = Meter.Start();
        await EchoBlockAsync(roundTrip, expected, unit, ticks);
        return new EchoBlock(meter.Stop(count), ticks);
    }

    /// <summary>One sequential round trip per element of <paramref name="ticks"/>, each one timed into it.</summary>
    private static async Task EchoBlockAsync(Func<ValueTask<int>> roundTrip, int expected, string unit, long[] ticks)
    {
        for (int i = 0; i < ticks.Length; i++)
        {
            long sent = Stopwatch.GetTimestamp();
            int length = await roundTrip();
            ticks[i] = Stopwatch.GetTimestamp() - sent;
            Check(length == expected, $"an echo came back with {length} {unit}, expected {expected}");
        }
    }

    private static async Task CloseAsync(ILoopbackClient client, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        linked.CancelAfter(TimeSpan.FromSeconds(10));
        await client.CloseAsync(linked.Token);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }
}
