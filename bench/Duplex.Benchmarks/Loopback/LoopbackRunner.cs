using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Duplex.Benchmarks.Server;
using Duplex.Benchmarks.Shared;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// The <c>loopback</c> command: one local server (a child process by default), every scenario for
/// every client, repetitions interleaved (the client order rotates each repetition), medians and
/// ratios to <see cref="System.Net.WebSockets.ClientWebSocket"/> printed as one Markdown table.
/// </summary>
internal sealed class LoopbackRunner
{
    /// <summary>S3 and S4 run in this many blocks per client, taking turns (see <see cref="RunInterleavedAsync"/>).</summary>
    private const int Blocks = 20;

    private readonly LoopbackOptions _options;
    private readonly List<MetricSeries> _series = [];
    private readonly List<string> _failures = [];
    private readonly string _text;
    private readonly byte[] _binary;
    private Uri _base = null!;
    private X509Certificate2? _serverCertificate;

    private LoopbackRunner(LoopbackOptions options)
    {
        _options = options;
        _text = new string('x', options.MessageSize);
        _binary = new byte[options.BinarySize];
        new Random(42).NextBytes(_binary);
    }

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        LoopbackOptions options = LoopbackOptions.Parse(args);
        var runner = new LoopbackRunner(options);
        return await runner.RunAsync();
    }

    private async Task<int> RunAsync()
    {
        DateTimeOffset startedAt = DateTimeOffset.UtcNow;
        string loadBefore = MachineInfo.LoadAverage();
        long started = Stopwatch.GetTimestamp();
        BenchServer? inProcess = null;
        ServerProcess? child = null;
        using AllocationSampler? sampler = _options.AllocationTypes ? new AllocationSampler() : null;
        Meter.Sampler = sampler;
        try
        {
            if (_options.InProcessServer)
            {
                _serverCertificate = _options.Tls ? LoopbackServerCertificate.Create() : null;
                inProcess = await BenchServer.StartAsync(_serverCertificate);
                _base = inProcess.BaseUri;
            }
            else
            {
                child = await ServerProcess.StartAsync(TimeSpan.FromSeconds(30), _options.Tls);
                _base = child.BaseUri;
                _serverCertificate = child.Certificate;
            }

            Log($"server at {_base} ({(_options.InProcessServer ? "in process" : $"child process {child!.ProcessId}")}); {(_options.Short ? "short" : "full")} mode, {_options.Repetitions} repetitions");
            await WarmUpAsync();
            for (int rep = 0; rep < _options.Repetitions; rep++)
            {
                ClientKind[] order = [.. _options.Clients.Skip(rep % _options.Clients.Count).Concat(_options.Clients.Take(rep % _options.Clients.Count))];
                Log($"repetition {rep + 1}/{_options.Repetitions}: {string.Join(", ", order.Select(ClientCatalog.Id))}");
                foreach (ClientKind client in order)
                {
                    await RunScenariosAsync(client);
                }

                if (_options.Scenarios.Contains("S3"))
                {
                    await RunInterleavedAsync("S3", order, _options.RoundTrips, EchoTextBlockAsync, RecordEchoText);
                }

                if (_options.Scenarios.Contains("S4"))
                {
                    await RunInterleavedAsync("S4", order, _options.BinaryRoundTrips, EchoBinaryBlockAsync, RecordEchoBinary);
                }

                // The idle probes run in processes of their own over ws:// only.
                if (_options.Scenarios.Contains("S5") && !_options.Tls)
                {
                    foreach (ClientKind client in order)
                    {
                        await RunIdleAsync(client);
                    }
                }
            }
        }
        finally
        {
            if (inProcess is not null)
            {
                await inProcess.DisposeAsync();
            }

            if (child is not null)
            {
                await child.DisposeAsync();
            }
        }

        var report = new LoopbackReport(_options, _series, _failures, startedAt, loadBefore, MachineInfo.LoadAverage(), Stopwatch.GetElapsedTime(started));
        string markdown = report.ToMarkdown();
        Console.Out.WriteLine(markdown);
        if (_options.OutputPath is { } path)
        {
            await File.WriteAllTextAsync(path, markdown);
        }

        return 0;
    }

    /// <summary>
    /// A run of every scenario for every client, so tiered JIT (tier 1 with PGO, for the client and the
    /// server process alike), pools and the GC's budgets are warm before timing. With 20,000 messages
    /// the first timed repetition of S1/S2 still ran at about half the speed of the later ones.
    /// </summary>
    private async Task WarmUpAsync()
    {
        Log("warming up");
        int messages = Math.Min(_options.ReceiveCount, 200_000);
        foreach (ClientKind client in _options.Clients)
        {
            await TryAsync(client, "warm-up", async token =>
            {
                await ReceiveAsync(client, messages, token);
                await SendAsync(client, messages, token);
                await WarmEchoAsync(client, 1_000, 3, token);
                return 0;
            });
        }
    }

    private async Task RunScenariosAsync(ClientKind client)
    {
        if (_options.Scenarios.Contains("S1"))
        {
            Meter.Reading? s1 = await TryAsync(client, "S1", token => ReceiveAsync(client, _options.ReceiveCount, token));
            Record("S1", "receive msg/s", client, "msg/s", Better.Higher, s1?.PerSecond, s1);
        }

        if (_options.Scenarios.Contains("S2"))
        {
            Meter.Reading? s2 = await TryAsync(client, "S2", token => SendAsync(client, _options.SendCount, token));
            Record("S2", "send msg/s", client, "msg/s", Better.Higher, s2?.PerSecond, s2);
        }
    }

    /// <summary>S1: the server pushes N texts after the handshake; timed from connect to the last message.</summary>
    private async Task<Meter.Reading> ReceiveAsync(ClientKind kind, int count, CancellationToken token)
    {
        Collect();
        await using ILoopbackClient client = ClientCatalog.Create(kind, _serverCertificate);
        client.ExpectPushed(count);
        var uri = new Uri(_base, string.Create(CultureInfo.InvariantCulture, $"/push?count={count}&size={_options.MessageSize}"));
        var meter = Meter.Start();
        await client.ConnectAsync(uri, token);
        long chars = await client.ReceiveTextsAsync(count, token);
        Meter.Reading reading = meter.Stop(count);
        Check(chars == (long)count * _options.MessageSize, $"received {chars} characters, expected {(long)count * _options.MessageSize}");
        await CloseAsync(client, token);
        return reading;
    }

    /// <summary>S2: N awaited sends to the sink, then "done"; the server's count must match.</summary>
    private async Task<Meter.Reading> SendAsync(ClientKind kind, int count, CancellationToken token)
    {
        Collect();
        await using ILoopbackClient client = ClientCatalog.Create(kind, _serverCertificate);
        await client.ConnectAsync(new Uri(_base, "/sink"), token);
        var meter = Meter.Start();
        long counted = await client.SendTextsAsync(_text, count, token);
        Meter.Reading reading = meter.Stop(count);
        Check(counted == count, $"the server counted {counted} messages, expected {count}");
        await CloseAsync(client, token);
        return reading;
    }

    /// <summary>
    /// S3 and S4 run interleaved: every client has its connection open at once and they take turns in
    /// blocks of round trips (the order rotating by block), so each one meets the same state of the
    /// machine. On the shared two-core VM the latency of a loopback round trip drifts between ~30 and
    /// ~60 µs over tens of seconds; with each client running its 20,000 round trips alone, that drift
    /// decided which client looked fastest.
    /// </summary>
    private async Task RunInterleavedAsync(
        string scenario,
        ClientKind[] order,
        int roundTrips,
        Func<ILoopbackClient, int, long[], int, CancellationToken, Task> block,
        Action<ClientKind, long[]?, Meter.Reading?> record)
    {
        int perBlock = Math.Max(1, roundTrips / Blocks);
        var runs = new List<InterleavedRun>();
        using var timeout = new CancellationTokenSource(_options.RunTimeout * order.Length);
        try
        {
            foreach (ClientKind kind in order)
            {
                var run = new InterleavedRun(kind, ClientCatalog.Create(kind, _serverCertificate), new long[perBlock * Blocks]);
                runs.Add(run);
                try
                {
                    await run.Client.ConnectAsync(new Uri(_base, "/echo"), timeout.Token);

                    // One untimed round trip: buffers a client grows on first use are not part of the loop.
                    await block(run.Client, 0, new long[1], 1, timeout.Token);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    run.Fail(scenario, ex, this);
                }
            }

            for (int b = 0; b < Blocks; b++)
            {
                for (int i = 0; i < runs.Count; i++)
                {
                    InterleavedRun run = runs[(b + i) % runs.Count];
                    if (run.Failed)
                    {
                        continue;
                    }

                    Collect();
                    var meter = Meter.Start();
                    try
                    {
                        await block(run.Client, b * perBlock, run.Ticks, perBlock, timeout.Token);
                        Meter.Reading reading = meter.Stop(perBlock);
                        run.Reading = run.Reading is { } sum ? sum.Plus(reading) : reading;
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        run.Fail(scenario, ex, this);
                    }
                }
            }
        }
        finally
        {
            foreach (InterleavedRun run in runs)
            {
                try
                {
                    await CloseAsync(run.Client, CancellationToken.None);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Closing after the measurement is best effort.
                }

                await run.Client.DisposeAsync();
            }
        }

        foreach (InterleavedRun run in runs)
        {
            if (!run.Failed)
            {
                Log($"  {scenario} {ClientCatalog.Id(run.Kind)}: {run.Reading}");
            }

            record(run.Kind, run.Failed ? null : run.Ticks, run.Failed ? null : run.Reading);
        }
    }

    private void RecordEchoText(ClientKind client, long[]? ticks, Meter.Reading? reading)
    {
        long[][]? blocks = ticks is null ? null : SplitByBlock(ticks);
        foreach (long[] block in blocks ?? [])
        {
            Array.Sort(block);
        }

        double[]? blockP50 = blocks?.Select(block => Micros(Percentile(block, 0.50))).ToArray();
        double[]? blockP99 = blocks?.Select(block => Micros(Percentile(block, 0.99))).ToArray();
        if (ticks is not null)
        {
            Array.Sort(ticks);
        }

        Record("S3", "echo p50", client, "µs", Better.Lower, ticks is null ? null : Micros(Percentile(ticks, 0.50)), reading, blockP50);
        Record("S3", "echo p99", client, "µs", Better.Lower, ticks is null ? null : Micros(Percentile(ticks, 0.99)), null, blockP99);
        Record("S3", "echo p99.9", client, "µs", Better.Lower, ticks is null ? null : Micros(Percentile(ticks, 0.999)), null);
    }

    private void RecordEchoBinary(ClientKind client, long[]? ticks, Meter.Reading? reading)
    {
        double? rate = null;
        if (ticks is not null && reading is { } r)
        {
            double megabytes = (double)r.Operations * _binary.Length / (1024 * 1024);
            rate = megabytes / r.Elapsed.TotalSeconds;
        }

        // A block's rate from its round trips' own times.
        double[]? blocks = ticks is null
            ? null
            : [.. SplitByBlock(ticks).Select(block => block.Length * ((double)_binary.Length / (1024 * 1024)) / (block.Sum() / (double)Stopwatch.Frequency))];
        Record("S4", "1 MiB echo MB/s", client, "MB/s", Better.Higher, rate, reading, blocks);
    }

    /// <summary>An interleaved scenario's round-trip times block by block (copies, in block order).</summary>
    private static long[][] SplitByBlock(long[] ticks)
    {
        int perBlock = ticks.Length / Blocks;
        return [.. Enumerable.Range(0, Blocks).Select(b => ticks[(b * perBlock)..((b + 1) * perBlock)])];
    }

    /// <summary>S3: <paramref name="count"/> sequential text round trips, each one timed into <paramref name="ticks"/> from <paramref name="first"/>.</summary>
    private Task EchoTextBlockAsync(ILoopbackClient client, int first, long[] ticks, int count, CancellationToken token) =>
        EchoBlockAsync(() => client.EchoTextAsync(_text, token), _text.Length, "characters", first, ticks, count);

    /// <summary>S4: <paramref name="count"/> sequential 1 MiB binary round trips, timed the same way.</summary>
    private Task EchoBinaryBlockAsync(ILoopbackClient client, int first, long[] ticks, int count, CancellationToken token) =>
        EchoBlockAsync(() => client.EchoBinaryAsync(_binary, token), _binary.Length, "bytes", first, ticks, count);

    private static async Task EchoBlockAsync(Func<ValueTask<int>> roundTrip, int expected, string unit, int first, long[] ticks, int count)
    {
        for (int i = 0; i < count; i++)
        {
            long sent = Stopwatch.GetTimestamp();
            int length = await roundTrip();
            ticks[first + i] = Stopwatch.GetTimestamp() - sent;
            Check(length == expected, $"an echo came back with {length} {unit}, expected {expected}");
        }
    }

    /// <summary>Warm-up of S3/S4 for one client: its own connection, a few round trips.</summary>
    private async Task<int> WarmEchoAsync(ClientKind kind, int texts, int binaries, CancellationToken token)
    {
        await using ILoopbackClient client = ClientCatalog.Create(kind, _serverCertificate);
        await client.ConnectAsync(new Uri(_base, "/echo"), token);
        await EchoTextBlockAsync(client, 0, new long[texts], texts, token);
        await EchoBinaryBlockAsync(client, 0, new long[binaries], binaries, token);
        await CloseAsync(client, token);
        return 0;
    }

    private async Task RunIdleAsync(ClientKind client)
    {
        TimeSpan timeout = _options.Short ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(240);
        IdleProbe.Result? result = null;
        try
        {
            result = await IdleProbe.MeasureAsync(client, new Uri(_base, "/idle"), _options.IdleConnections, timeout);
            Log($"  S5 {ClientCatalog.Id(client)}: {result.Value.HeapBytesPerConnection:0} B heap, {result.Value.WorkingSetBytesPerConnection:0} B RSS per connection ({_options.IdleConnections} opened in {result.Value.ConnectSeconds:0.0} s)");
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or FormatException or System.ComponentModel.Win32Exception)
        {
            Log($"  S5 {ClientCatalog.Id(client)} failed: {ex.Message}");
            _failures.Add($"S5 {ClientCatalog.Name(client)}: {ex.Message}");
        }

        Record("S5", "idle heap B/conn", client, "B", Better.Lower, result?.HeapBytesPerConnection, null);
        Record("S5", "idle RSS B/conn", client, "B", Better.Lower, result?.WorkingSetBytesPerConnection, null);

        // Give the server a moment to see the probe's connections end.
        await Task.Delay(_options.Short ? 300 : 1000);
    }

    /// <summary>Runs one measured run under the run timeout; a failure is logged and yields null.</summary>
    private async Task<T?> TryAsync<T>(ClientKind client, string what, Func<CancellationToken, Task<T>> run)
        where T : struct
    {
        using var timeout = new CancellationTokenSource(_options.RunTimeout);
        try
        {
            T result = await run(timeout.Token);
            if (what != "warm-up")
            {
                Log($"  {what} {ClientCatalog.Id(client)}: {result}");
            }

            return result;
        }
#pragma warning disable CA1031 // A client that fails one run is reported in the table; the others go on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            string reason = timeout.IsCancellationRequested ? $"timed out after {_options.RunTimeout.TotalSeconds:0} s" : $"{ex.GetType().Name}: {ex.Message}";
            Log($"  {what} {ClientCatalog.Id(client)} failed: {reason}");
            if (what != "warm-up")
            {
                _failures.Add($"{what} {ClientCatalog.Name(client)}: {reason}");
            }

            return null;
        }
    }

    private static async Task CloseAsync(ILoopbackClient client, CancellationToken token)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(token);
        linked.CancelAfter(TimeSpan.FromSeconds(10));
        await client.CloseAsync(linked.Token);
    }

    private void Record(string scenario, string metric, ClientKind client, string unit, Better better, double? value, Meter.Reading? reading, double[]? blocks = null)
    {
        MetricSeries series = Series(scenario, metric, client, unit, better);
        series.Values.Add(value ?? double.NaN);
        series.Blocks.Add(blocks);
        if (reading is { } r)
        {
            series.AllocatedPerMessage.Add(r.AllocatedPerOperation);
            series.CpuPerMessage.Add(r.CpuMicrosecondsPerOperation);
        }
    }

    private MetricSeries Series(string scenario, string metric, ClientKind client, string unit, Better better)
    {
        MetricSeries? series = _series.Find(s => s.Scenario == scenario && s.Metric == metric && s.Client == client);
        if (series is null)
        {
            series = new MetricSeries(scenario, metric, client, unit, better);
            _series.Add(series);
        }

        return series;
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    private static long Percentile(long[] sorted, double quantile) => sorted[(int)Math.Ceiling(quantile * sorted.Length) - 1];

    private static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }

    private static void Log(string message) => Console.Error.WriteLine(message);

    /// <summary>One client's share of an interleaved scenario.</summary>
    private sealed class InterleavedRun(ClientKind kind, ILoopbackClient client, long[] ticks)
    {
        public ClientKind Kind { get; } = kind;

        public ILoopbackClient Client { get; } = client;

        public long[] Ticks { get; } = ticks;

        public Meter.Reading? Reading { get; set; }

        public bool Failed { get; private set; }

        public void Fail(string scenario, Exception error, LoopbackRunner runner)
        {
            Failed = true;
            string reason = $"{error.GetType().Name}: {error.Message}";
            Log($"  {scenario} {ClientCatalog.Id(Kind)} failed: {reason}");
            runner._failures.Add($"{scenario} {ClientCatalog.Name(Kind)}: {reason}");
        }
    }
}
