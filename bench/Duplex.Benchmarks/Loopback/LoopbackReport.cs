using System.Globalization;
using System.Text;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// The loopback results as Markdown: machine, date and mode, one table (median of the repetitions,
/// ratios to ClientWebSocket in wall clock and in CPU per operation, allocated bytes, CPU time and
/// context switches per message, every run), and the targets checked.
/// </summary>
/// <remarks>
/// Every ratio is paired: a client's value over ClientWebSocket's from the same stretch of time — the
/// same block for S3 and S4, whose clients take turns in 20 blocks per repetition, otherwise the same
/// repetition — since the shared machine's speed drifts by tens of percent between repetitions and
/// moves every client alike. Targets on CPU per operation (steadier than wall time when other work
/// shares the cores) are met when the paired median meets them; the interval printed beside it says
/// whether that verdict could be noise. Targets on wall-clock latency are met when the block-paired
/// interval does not lie wholly on the wrong side of the bound.
/// </remarks>
internal sealed class LoopbackReport(
    LoopbackOptions options, IReadOnlyList<MetricSeries> series, IReadOnlyList<string> failures,
    DateTimeOffset startedAt, string loadBefore, string loadAfter, TimeSpan duration)
{
    private const ClientKind Connection = ClientKind.DuplexConnection;
    private const ClientKind Client = ClientKind.DuplexClient;
    private const ClientKind ConnectionThread = ClientKind.DuplexConnectionThread;
    private const ClientKind ClientThread = ClientKind.DuplexClientThread;
    private const ClientKind Reference = ClientKind.ClientWebSocket;
    private static readonly CultureInfo s_culture = CultureInfo.InvariantCulture;

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine(s_culture, $"### Loopback results ({(options.Short ? "short" : "full")} mode, {(options.ProcessPerClient ? "process per client" : "in process")}, median of {options.Repetitions} repetitions)");
        md.AppendLine();
        md.AppendLine(s_culture, $"- Date: {startedAt:yyyy-MM-dd HH:mm} UTC; run took {duration.TotalSeconds:0} s; 1-min load average {loadBefore} before, {loadAfter} after");
        md.AppendLine(s_culture, $"- Machine: {MachineInfo.Describe()}");
        string nodeNote = options.Clients.Contains(ClientKind.NodeWs) ? ", `node bench/node-client.js` for Node ws, a reference in no target and no S5 row" : string.Empty;
        md.AppendLine(s_culture, $"- Clients: {(options.ProcessPerClient ? "each in a fresh process of its own for every scenario of every repetition (`client` command" + nodeNote + "; it warms the scenario up untimed, then runs it), driven over standard input and output" : "all in the benchmark's process")}; S1 and S2 one client after the other, S3 and S4 interleaved in {LoopbackRunner.Blocks} blocks per repetition");
        md.AppendLine(s_culture, $"- Server: Kestrel on 127.0.0.1, {(options.InProcessServer ? "in the benchmark's process" : "in a child process")}; sizes: S1 {options.ReceiveCount:N0} × {options.MessageSize} B, S2 {options.SendCount:N0} × {options.MessageSize} B, S3 {options.RoundTrips:N0} round trips, S4 {options.BinaryRoundTrips} × 1 MiB, S5 {options.IdleConnections:N0} idle connections");
        md.AppendLine(s_culture, $"- vs ClientWebSocket: the median of paired ratios, the client's value over ClientWebSocket's from the same stretch of time — the same block for S3 and S4 ({LoopbackRunner.Blocks} per repetition), the same repetition otherwise — with, in brackets, the interval that holds the median ratio with 95 % probability (sign-test interval from order statistics; \"range\" when too few pairs allow 95 %, e.g. fewer than 6 repetitions). For \"lower is better\" rows below 1 is better. CPU vs ClientWebSocket: the same for CPU time per message.");
        md.AppendLine("- Alloc/msg: `GC.GetTotalAllocatedBytes(true)` delta over the timed loop in the client's process, divided by messages (S3, S4: by round trips). CPU µs/msg: that process's CPU time (all threads, `Environment.CpuUsage`) over the same loop, divided the same way. ctx sw/msg: its context switches (all threads, voluntary and involuntary, `getrusage(RUSAGE_SELF)`) divided the same way — the thread wake-ups a message costs. In process mode the benchmark's own threads are in all three.");
        md.AppendLine();
        md.AppendLine("| Scenario | Metric | Client | Median | vs ClientWebSocket | Better | Alloc/msg | CPU µs/msg | CPU vs ClientWebSocket | ctx sw/msg | Runs |");
        md.AppendLine("|---|---|---|---:|---:|---|---:|---:|---:|---:|---|");
        foreach (MetricSeries row in series.OrderBy(s => s.Scenario, StringComparer.Ordinal).ThenBy(MetricOrder).ThenBy(s => s.Client))
        {
            MetricSeries? baseline = Find(row.Scenario, row.Metric, Reference);
            bool costs = row.CpuPerMessage.Count > 0;
            string wall = baseline is null ? "n/a" : Cell(WallRatio(row, baseline));
            string cpuRatio = !costs || baseline is null ? string.Empty : Cell(CpuRatio(row, baseline));
            string alloc = costs ? Bytes(row.MedianAllocated) : string.Empty;
            string cpu = costs ? Number(row.MedianCpu, row.MedianCpu < 100 ? "0.00" : "N0") : string.Empty;
            string switches = costs ? Number(row.MedianContextSwitches, row.MedianContextSwitches < 1 ? "0.000" : "0.00") : string.Empty;
            string runs = string.Join(", ", row.Values.Select(v => Format(v, row.Unit)));
            md.AppendLine(s_culture, $"| {row.Scenario} | {row.Metric} | {ClientCatalog.Name(row.Client)} | {Format(row.Median, row.Unit)}{(double.IsNaN(row.Median) ? string.Empty : " " + row.Unit)} | {wall} | {(row.Better == Better.Higher ? "higher" : "lower")} | {alloc} | {cpu} | {cpuRatio} | {switches} | {runs} |");
        }

        md.AppendLine();
        md.AppendLine("#### Targets");
        md.AppendLine();
        md.AppendLine("A target on CPU per operation is MET when the paired median meets it; the interval beside it shows whether that could be noise. A wall-clock latency target is MET when its block-paired interval does not lie wholly on the wrong side of the bound. Throughput and memory targets compare the paired median.");
        md.AppendLine();
        foreach (string line in Targets())
        {
            md.AppendLine(line);
        }

        if (failures.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("#### Failed runs");
            md.AppendLine();
            foreach (string failure in failures)
            {
                md.AppendLine(s_culture, $"- {failure}");
            }
        }

        return md.ToString();
    }

    private IEnumerable<string> Targets()
    {
        yield return CpuTarget("S3 CPU per round trip ≤ 0.75× ClientWebSocket (connection layer)", "S3", "echo p50", Connection, Reference, 0.75);
        yield return CpuTarget("S3 CPU per round trip ≤ 0.85× ClientWebSocket (client layer)", "S3", "echo p50", Client, Reference, 0.85);
        foreach (string metric in new[] { "echo p50", "echo p99" })
        {
            foreach (ClientKind duplex in new[] { Connection, Client })
            {
                yield return LatencyTarget($"S3 {metric} ≤ 1.0× ClientWebSocket, block-paired ({Layer(duplex)})", metric, duplex);
            }
        }

        // The same S3 targets with DedicatedReceiveThread, the mode for latency-critical applications.
        yield return CpuTarget("S3 CPU per round trip ≤ 0.75× ClientWebSocket (connection layer, dedicated thread)", "S3", "echo p50", ConnectionThread, Reference, 0.75);
        yield return CpuTarget("S3 CPU per round trip ≤ 0.85× ClientWebSocket (client layer, dedicated thread)", "S3", "echo p50", ClientThread, Reference, 0.85);
        foreach (string metric in new[] { "echo p50", "echo p99" })
        {
            foreach (ClientKind duplex in new[] { ConnectionThread, ClientThread })
            {
                yield return LatencyTarget($"S3 {metric} ≤ 1.0× ClientWebSocket, block-paired ({Layer(duplex)})", metric, duplex);
            }
        }

        yield return CpuTarget("S1 CPU per message ≤ 0.8× ClientWebSocket (connection layer)", "S1", "receive msg/s", Connection, Reference, 0.8);
        yield return CpuTarget("S1 CPU per message ≤ 0.8× ClientWebSocket (client layer)", "S1", "receive msg/s", Client, Reference, 0.8);

        // "Within 0.9×" of the connection layer's efficiency: at most 1/0.9 of its CPU per operation.
        yield return CpuTarget("Client layer S1 CPU per message within 0.9× of the connection layer (≤ 1.11×)", "S1", "receive msg/s", Client, Connection, 1 / 0.9);
        yield return CpuTarget("Client layer S2 CPU per message within 0.9× of the connection layer (≤ 1.11×)", "S2", "send msg/s", Client, Connection, 1 / 0.9);
        yield return CpuTarget("Client layer S3 CPU per round trip within 0.9× of the connection layer (≤ 1.11×)", "S3", "echo p50", Client, Connection, 1 / 0.9);

        yield return RatioTarget("S1 receive ≥ 1.4× ClientWebSocket (wall clock)", "S1", "receive msg/s", Connection, 1.4);
        yield return RatioTarget("S2 send ≥ 5× ClientWebSocket (wall clock)", "S2", "send msg/s", Connection, 5.0);
        yield return S4Target();
        yield return RatioTarget("S5 managed heap per idle connection ≤ 0.25× ClientWebSocket", "S5", "idle heap B/conn", Connection, 0.25);
        yield return RatioTarget("S5 RSS per idle connection ≤ 0.4× ClientWebSocket", "S5", "idle RSS B/conn", Connection, 0.4);
        foreach (ClientKind duplex in new[] { Connection, Client })
        {
            double sendAlloc = MedianAlloc("S2", "send msg/s", duplex);
            yield return Line($"{ClientCatalog.Name(duplex)}: 0 B per message on the send path (S2)", sendAlloc < 1, $"{sendAlloc:0.0} B/msg", sendAlloc);

            // A 64-character string is 152 bytes on 64-bit .NET.
            double receiveAlloc = MedianAlloc("S1", "receive msg/s", duplex);
            yield return Line($"{ClientCatalog.Name(duplex)}: only the string allocated per received text (S1, 152 B)", receiveAlloc < 160, $"{receiveAlloc:0.0} B/msg", receiveAlloc);
        }
    }

    /// <summary>A bound on CPU per operation relative to <paramref name="reference"/>: met when the paired median meets it.</summary>
    private string CpuTarget(string title, string scenario, string metric, ClientKind subject, ClientKind reference, double bound)
    {
        MetricSeries? mine = Find(scenario, metric, subject);
        MetricSeries? theirs = Find(scenario, metric, reference);
        if (mine is null || theirs is null)
        {
            return Line(title, false, string.Empty, double.NaN);
        }

        PairedRatios ratios = CpuRatio(mine, theirs);
        return Line(
            title,
            ratios.Median <= bound,
            $"{ratios.Describe()}{Noise(ratios, bound)}; medians {mine.MedianCpu:0.00} vs {theirs.MedianCpu:0.00} µs CPU{MetIn(mine.CpuPerMessage, theirs.CpuPerMessage, r => r <= bound)}",
            ratios.Median);
    }

    /// <summary>S3 latency vs ClientWebSocket, block-paired: met unless the whole interval lies above 1.0.</summary>
    private string LatencyTarget(string title, string metric, ClientKind subject)
    {
        MetricSeries? mine = Find("S3", metric, subject);
        MetricSeries? theirs = Find("S3", metric, Reference);
        if (mine is null || theirs is null)
        {
            return Line(title, false, string.Empty, double.NaN);
        }

        PairedRatios ratios = WallRatio(mine, theirs);
        return Line(
            title,
            ratios.Low <= 1.0,
            $"{ratios.Describe()}{Noise(ratios, 1.0)}; medians {mine.Median:0.0} vs {theirs.Median:0.0} µs",
            ratios.Low);
    }

    /// <summary>
    /// S4 at least as fast as ClientWebSocket, judged as the latency path is: CPU per round trip at
    /// most ClientWebSocket's (paired median), and the block-paired wall-clock interval not wholly below 1.0.
    /// </summary>
    private string S4Target()
    {
        const string title = "S4 1 MiB echo ≥ 1.0× ClientWebSocket (CPU per round trip ≤ 1.0×, wall-clock block interval not below 1.0×)";
        MetricSeries? mine = Find("S4", "1 MiB echo MB/s", Connection);
        MetricSeries? theirs = Find("S4", "1 MiB echo MB/s", Reference);
        if (mine is null || theirs is null)
        {
            return Line(title, false, string.Empty, double.NaN);
        }

        PairedRatios cpu = CpuRatio(mine, theirs);
        PairedRatios wall = WallRatio(mine, theirs);
        return Line(
            title,
            cpu.Median <= 1.0 && wall.High >= 1.0,
            $"CPU {cpu.Describe()}; MB/s {wall.Describe()}",
            cpu.Median,
            wall.High);
    }

    /// <summary>A bound on the paired median of the headline metric against ClientWebSocket (throughput, memory).</summary>
    private string RatioTarget(string title, string scenario, string metric, ClientKind subject, double bound)
    {
        MetricSeries? mine = Find(scenario, metric, subject);
        MetricSeries? theirs = Find(scenario, metric, Reference);
        if (mine is null || theirs is null)
        {
            return Line(title, false, string.Empty, double.NaN);
        }

        bool atLeast = mine.Better == Better.Higher;
        PairedRatios ratios = WallRatio(mine, theirs);
        return Line(
            title,
            atLeast ? ratios.Median >= bound : ratios.Median <= bound,
            $"{ratios.Describe()}{MetIn(mine.Values, theirs.Values, r => atLeast ? r >= bound : r <= bound)}",
            ratios.Median);
    }

    /// <summary>How many repetitions on their own met the bound (each repetition's whole-run values): a median near the bound is a coin toss when few do.</summary>
    private static string MetIn(List<double> values, List<double> reference, Func<double, bool> met)
    {
        double[] ratios = [.. values.Select((value, i) => i < reference.Count ? value / reference[i] : double.NaN).Where(r => !double.IsNaN(r))];
        return ratios.Length < 2 ? string.Empty : string.Create(s_culture, $"; met in {ratios.Count(met)} of {ratios.Length} repetitions");
    }

    /// <summary>For an upper bound: whether the whole interval lies on one side of it, or straddles it (then the verdict could be noise).</summary>
    private static string Noise(PairedRatios ratios, double bound)
    {
        if (ratios.Count < 2)
        {
            return string.Empty;
        }

        if (ratios.Low > bound)
        {
            return "; the whole interval is above the bound";
        }

        return ratios.High <= bound ? "; the whole interval meets the bound" : "; the interval straddles the bound: within noise";
    }

    /// <summary>Wall clock: paired by block where the scenario has blocks, by repetition otherwise.</summary>
    private static PairedRatios WallRatio(MetricSeries row, MetricSeries reference) =>
        HasBlocks(row.Blocks) && HasBlocks(reference.Blocks)
            ? ByBlock(row.Blocks, reference.Blocks)
            : ByRepetition(row.Values, reference.Values);

    /// <summary>CPU per operation: paired by block where the scenario has blocks, by repetition otherwise.</summary>
    private static PairedRatios CpuRatio(MetricSeries row, MetricSeries reference) =>
        HasBlocks(row.CpuBlocks) && HasBlocks(reference.CpuBlocks)
            ? ByBlock(row.CpuBlocks, reference.CpuBlocks)
            : ByRepetition(row.CpuPerMessage, reference.CpuPerMessage);

    private static bool HasBlocks(List<double[]?> blocks) => blocks.Any(b => b is not null);

    private static PairedRatios ByRepetition(List<double> values, List<double> reference) =>
        new(values.Select((value, i) => i < reference.Count ? value / reference[i] : double.NaN), "repetitions");

    private static PairedRatios ByBlock(List<double[]?> blocks, List<double[]?> reference)
    {
        var ratios = new List<double>();
        for (int repetition = 0; repetition < blocks.Count && repetition < reference.Count; repetition++)
        {
            if (blocks[repetition] is not { } mine || reference[repetition] is not { } theirs)
            {
                continue;
            }

            for (int block = 0; block < mine.Length && block < theirs.Length; block++)
            {
                ratios.Add(mine[block] / theirs[block]);
            }
        }

        return new PairedRatios(ratios, "blocks");
    }

    private static string Layer(ClientKind kind) => kind switch
    {
        Connection => "connection layer",
        ConnectionThread => "connection layer, dedicated thread",
        ClientThread => "client layer, dedicated thread",
        _ => "client layer",
    };

    private static string Line(string title, bool met, string detail, params double[] inputs) =>
        inputs.Any(double.IsNaN)
            ? $"- NOT MEASURED: {title}"
            : string.Create(s_culture, $"- {(met ? "MET" : "NOT MET")}: {title} — {detail}");

    private double MedianAlloc(string scenario, string metric, ClientKind client) => Find(scenario, metric, client)?.MedianAllocated ?? double.NaN;

    private MetricSeries? Find(string scenario, string metric, ClientKind client) =>
        series.FirstOrDefault(s => s.Scenario == scenario && s.Metric == metric && s.Client == client);

    private static int MetricOrder(MetricSeries row) => row.Metric switch
    {
        "echo p50" => 0,
        "echo p99" => 1,
        "echo p99.9" => 2,
        "idle heap B/conn" => 0,
        _ => 1,
    };

    private static string Cell(PairedRatios ratios) => ratios.Count == 0
        ? "n/a"
        : ratios.CellInterval.Length == 0
            ? string.Create(s_culture, $"{ratios.Median:0.00}×")
            : string.Create(s_culture, $"{ratios.Median:0.00}× ({ratios.CellInterval})");

    private static string Format(double value, string unit)
    {
        if (double.IsNaN(value))
        {
            return "failed";
        }

        return unit switch
        {
            "µs" => value.ToString("0.0", s_culture),
            _ => value.ToString("N0", s_culture),
        };
    }

    private static string Number(double value, string format) => double.IsNaN(value) ? "n/a" : value.ToString(format, s_culture);

    private static string Bytes(double bytes) => double.IsNaN(bytes) ? "n/a" : bytes < 10_000
        ? bytes.ToString("0.0", s_culture) + " B"
        : (bytes / 1024).ToString("N0", s_culture) + " KiB";
}
