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
/// The clients run in this process, or with <c>--process-per-client</c> each in a fresh child
/// process per scenario and repetition (<see cref="ChildScenarioHost"/>); the scenario code is the
/// same <see cref="ScenarioHost"/> either way.
/// </summary>
internal sealed class LoopbackRunner
{
    /// <summary>S3 and S4 run in this many blocks per client, taking turns (see <see cref="RunInterleavedAsync"/>).</summary>
    internal const int Blocks = 20;

    private readonly LoopbackOptions _options;
    private readonly List<MetricSeries> _series = [];
    private readonly List<string> _failures = [];
    private Uri _base = null!;
    private X509Certificate2? _serverCertificate;

    private LoopbackRunner(LoopbackOptions options) => _options = options;

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

            Log($"server at {_base} ({(_options.InProcessServer ? "in process" : $"child process {child!.ProcessId}")}); {(_options.Short ? "short" : "full")} mode, {_options.Repetitions} repetitions, {(_options.ProcessPerClient ? "each client in a process of its own" : "every client in this process")}");
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
                    await RunInterleavedAsync("S3", order, _options.RoundTrips, (host, count, token) => host.EchoTextBlockAsync(count, token), RecordEchoText);
                }

                if (_options.Scenarios.Contains("S4"))
                {
                    await RunInterleavedAsync("S4", order, _options.BinaryRoundTrips, (host, count, token) => host.EchoBinaryBlockAsync(count, token), RecordEchoBinary);
                }

                // The idle probes run in processes of their own over ws:// only.
                if (_options.Scenarios.Contains("S5") && !_options.Tls)
                {
                    // The probe is a .NET process holding one .NET library's connections.
                    foreach (ClientKind client in order.Where(ClientCatalog.Idle.Contains))
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
    /// the first timed repetition of S1/S2 still ran at about half the speed of the later ones. With
    /// <c>--process-per-client</c> this warms the server (each fresh client process also warms its
    /// own scenario before it is timed, see <see cref="OpenHostAsync"/>).
    /// </summary>
    private async Task WarmUpAsync()
    {
        Log("warming up");
        int messages = WarmMessages;
        foreach (ClientKind client in _options.Clients)
        {
            await TryAsync(client, "warm-up", async token =>
            {
                await using IScenarioHost host = await OpenHostAsync(client, WarmUp.None, token);
                await host.WarmAsync(new WarmUp(messages, messages, 1_000, 3), token);
                return 0;
            });
        }
    }

    private int WarmMessages => Math.Min(_options.ReceiveCount, 200_000);

    /// <summary>
    /// Where <paramref name="kind"/> runs the next scenario: in this process, or in a fresh child
    /// process that first runs <paramref name="freshProcessWarmUp"/> (untimed), so its code is as warm
    /// as the in-process clients' are after the warm-up.
    /// </summary>
    private async Task<IScenarioHost> OpenHostAsync(ClientKind kind, WarmUp freshProcessWarmUp, CancellationToken token)
    {
        if (!_options.ProcessPerClient)
        {
            return new ScenarioHost(kind, _base, _serverCertificate, _options.MessageSize, _options.BinarySize);
        }

        ChildScenarioHost child = await ChildScenarioHost.StartAsync(kind, _base, _serverCertificate, _options.MessageSize, _options.BinarySize, token);
        try
        {
            if (!freshProcessWarmUp.IsNone)
            {
                await child.WarmAsync(freshProcessWarmUp, token);
            }

            return child;
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    private async Task RunScenariosAsync(ClientKind client)
    {
        if (_options.Scenarios.Contains("S1"))
        {
            Meter.Reading? s1 = await TryAsync(client, "S1", async token =>
            {
                await using IScenarioHost host = await OpenHostAsync(client, new WarmUp(WarmMessages, 0, 0, 0), token);
                return await host.ReceiveAsync(_options.ReceiveCount, token);
            });
            AddCost(Record("S1", "receive msg/s", client, "msg/s", Better.Higher, s1?.PerSecond), s1);
        }

        if (_options.Scenarios.Contains("S2"))
        {
            Meter.Reading? s2 = await TryAsync(client, "S2", async token =>
            {
                await using IScenarioHost host = await OpenHostAsync(client, new WarmUp(0, WarmMessages, 0, 0), token);
                return await host.SendAsync(_options.SendCount, token);
            });
            AddCost(Record("S2", "send msg/s", client, "msg/s", Better.Higher, s2?.PerSecond), s2);
        }
    }

    /// <summary>
    /// S3 and S4 run interleaved: every client has its connection open at once and they take turns in
    /// blocks of round trips (the order rotating by block), so each one meets the same state of the
    /// machine. On the shared two-core VM the latency of a loopback round trip drifts between ~30 and
    /// ~60 µs over tens of seconds; with each client running its 20,000 round trips alone, that drift
    /// decided which client looked fastest. With <c>--process-per-client</c> every client is its own
    /// process, all started and connected before the first block, each asked for its blocks in turn.
    /// Every step has its own timeout, so one hung client fails alone.
    /// </summary>
    private async Task RunInterleavedAsync(
        string scenario,
        ClientKind[] order,
        int roundTrips,
        Func<IScenarioHost, int, CancellationToken, Task<EchoBlock>> block,
        Action<ClientKind, long[]?, double[]?, Meter.Reading?> record)
    {
        int perBlock = Math.Max(1, roundTrips / Blocks);
        var warmUp = scenario == "S3" ? new WarmUp(0, 0, 1_000, 0) : new WarmUp(0, 0, 0, 3);
        var runs = new List<InterleavedRun>();
        try
        {
            foreach (ClientKind kind in order)
            {
                var run = new InterleavedRun(kind, perBlock);
                runs.Add(run);
                using var timeout = new CancellationTokenSource(_options.RunTimeout);
                try
                {
                    run.Host = await OpenHostAsync(kind, warmUp, timeout.Token);
                    await run.Host.OpenEchoAsync(timeout.Token);

                    // One untimed round trip: buffers a client grows on first use are not part of the loop.
                    await block(run.Host, 1, timeout.Token);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    run.Fail(scenario, ex, timeout.IsCancellationRequested, this);
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

                    using var timeout = new CancellationTokenSource(_options.RunTimeout);
                    try
                    {
                        EchoBlock result = await block(run.Host!, perBlock, timeout.Token);
                        run.Add(b, result);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        run.Fail(scenario, ex, timeout.IsCancellationRequested, this);
                    }
                }
            }
        }
        finally
        {
            foreach (InterleavedRun run in runs)
            {
                if (run.Host is not { } host)
                {
                    continue;
                }

                if (!run.Failed)
                {
                    try
                    {
                        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                        await host.CloseEchoAsync(timeout.Token);
                    }
                    catch (Exception ex) when (ex is not OutOfMemoryException)
                    {
                        // Closing after the measurement is best effort.
                    }
                }

                await host.DisposeAsync();
            }
        }

        foreach (InterleavedRun run in runs)
        {
            if (!run.Failed)
            {
                Log($"  {scenario} {ClientCatalog.Id(run.Kind)}: {run.Reading}");
            }

            record(run.Kind, run.Failed ? null : run.Ticks, run.Failed ? null : run.CpuBlocks, run.Failed ? null : run.Reading);
        }
    }

    private void RecordEchoText(ClientKind client, long[]? ticks, double[]? cpuBlocks, Meter.Reading? reading)
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

        AddCost(Record("S3", "echo p50", client, "µs", Better.Lower, ticks is null ? null : Micros(Percentile(ticks, 0.50)), blockP50), reading, cpuBlocks);
        Record("S3", "echo p99", client, "µs", Better.Lower, ticks is null ? null : Micros(Percentile(ticks, 0.99)), blockP99);
        Record("S3", "echo p99.9", client, "µs", Better.Lower, ticks is null ? null : Micros(Percentile(ticks, 0.999)));
    }

    private void RecordEchoBinary(ClientKind client, long[]? ticks, double[]? cpuBlocks, Meter.Reading? reading)
    {
        double? rate = null;
        if (ticks is not null && reading is { } r)
        {
            double megabytes = (double)r.Operations * _options.BinarySize / (1024 * 1024);
            rate = megabytes / r.Elapsed.TotalSeconds;
        }

        // A block's rate from its round trips' own times.
        double[]? blocks = ticks is null
            ? null
            : [.. SplitByBlock(ticks).Select(block => block.Length * ((double)_options.BinarySize / (1024 * 1024)) / (block.Sum() / (double)Stopwatch.Frequency))];
        AddCost(Record("S4", "1 MiB echo MB/s", client, "MB/s", Better.Higher, rate, blocks), reading, cpuBlocks);
    }

    /// <summary>An interleaved scenario's round-trip times block by block (copies, in block order).</summary>
    private static long[][] SplitByBlock(long[] ticks)
    {
        int perBlock = ticks.Length / Blocks;
        return [.. Enumerable.Range(0, Blocks).Select(b => ticks[(b * perBlock)..((b + 1) * perBlock)])];
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

        Record("S5", "idle heap B/conn", client, "B", Better.Lower, result?.HeapBytesPerConnection);
        Record("S5", "idle RSS B/conn", client, "B", Better.Lower, result?.WorkingSetBytesPerConnection);

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

    /// <summary>Adds one repetition's value (null: the run failed) to its row; the row is returned for <see cref="AddCost"/>.</summary>
    private MetricSeries Record(string scenario, string metric, ClientKind client, string unit, Better better, double? value, double[]? blocks = null)
    {
        MetricSeries series = Series(scenario, metric, client, unit, better);
        series.Values.Add(value ?? double.NaN);
        series.Blocks.Add(blocks);
        return series;
    }

    /// <summary>
    /// What the repetition's timed loop cost the client (null: the run failed), on the row that carries
    /// it. A failed run keeps its place as NaN, so every list stays paired by repetition with the other
    /// clients' rows.
    /// </summary>
    private static void AddCost(MetricSeries series, Meter.Reading? reading, double[]? cpuBlocks = null)
    {
        series.AllocatedPerMessage.Add(reading?.AllocatedPerOperation ?? double.NaN);
        series.CpuPerMessage.Add(reading?.CpuMicrosecondsPerOperation ?? double.NaN);
        series.ContextSwitchesPerMessage.Add(reading?.ContextSwitchesPerOperation ?? double.NaN);
        series.CpuBlocks.Add(cpuBlocks);
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

    private static long Percentile(long[] sorted, double quantile) => sorted[(int)Math.Ceiling(quantile * sorted.Length) - 1];

    private static double Micros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    private static void Log(string message) => Console.Error.WriteLine(message);

    /// <summary>One client's share of an interleaved scenario.</summary>
    private sealed class InterleavedRun(ClientKind kind, int perBlock)
    {
        public ClientKind Kind { get; } = kind;

        public IScenarioHost? Host { get; set; }

        /// <summary>Every round trip's time, block after block.</summary>
        public long[] Ticks { get; } = new long[perBlock * Blocks];

        /// <summary>CPU µs per round trip of each block.</summary>
        public double[] CpuBlocks { get; } = [.. Enumerable.Repeat(double.NaN, Blocks)];

        public Meter.Reading? Reading { get; private set; }

        public bool Failed { get; private set; }

        public void Add(int block, EchoBlock result)
        {
            if (result.Ticks.Length != perBlock)
            {
                throw new InvalidOperationException($"A block of {perBlock} round trips came back with {result.Ticks.Length} times.");
            }

            result.Ticks.CopyTo(Ticks, block * perBlock);
            CpuBlocks[block] = result.Reading.CpuMicrosecondsPerOperation;
            Reading = Reading is { } sum ? sum.Plus(result.Reading) : result.Reading;
        }

        public void Fail(string scenario, Exception error, bool timedOut, LoopbackRunner runner)
        {
            Failed = true;
            string reason = timedOut && error is OperationCanceledException
                ? $"timed out after {runner._options.RunTimeout.TotalSeconds:0} s"
                : $"{error.GetType().Name}: {error.Message}";
            Log($"  {scenario} {ClientCatalog.Id(Kind)} failed: {reason}");
            runner._failures.Add($"{scenario} {ClientCatalog.Name(Kind)}: {reason}");
        }
    }
}
