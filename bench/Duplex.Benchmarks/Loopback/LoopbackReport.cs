using System.Globalization;
using System.Text;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// The loopback results as Markdown: machine and date, one table (median of the repetitions, ratio
/// to ClientWebSocket, allocated bytes per message, every run), and the team's targets checked.
/// Ratios are paired: the median of the per-repetition ratios, since the clients of one repetition
/// ran in the same stretch of time (S3/S4 interleaved block by block) while the machine's speed
/// drifts between repetitions.
/// </summary>
internal sealed class LoopbackReport(
    LoopbackOptions options, IReadOnlyList<MetricSeries> series, IReadOnlyList<string> failures,
    DateTimeOffset startedAt, string loadBefore, string loadAfter, TimeSpan duration)
{
    private static readonly CultureInfo s_culture = CultureInfo.InvariantCulture;

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.AppendLine(s_culture, $"### Loopback results ({(options.Short ? "short" : "full")} mode, median of {options.Repetitions} repetitions)");
        md.AppendLine();
        md.AppendLine(s_culture, $"- Date: {startedAt:yyyy-MM-dd HH:mm} UTC; run took {duration.TotalSeconds:0} s; 1-min load average {loadBefore} before, {loadAfter} after");
        md.AppendLine(s_culture, $"- Machine: {MachineInfo.Describe()}");
        md.AppendLine(s_culture, $"- Server: Kestrel on 127.0.0.1, {(options.InProcessServer ? "in this process" : "in a child process")}; sizes: S1 {options.ReceiveCount:N0} × {options.MessageSize} B, S2 {options.SendCount:N0} × {options.MessageSize} B, S3 {options.RoundTrips:N0} round trips, S4 {options.BinaryRoundTrips} × 1 MiB, S5 {options.IdleConnections:N0} idle connections");
        md.AppendLine("- Ratio: the median over the repetitions of the client's value divided by ClientWebSocket's in the same repetition (paired: the clients of one repetition ran in the same stretch of time; for \"lower is better\" rows, below 1 is better). Targets are judged the same way, and say in how many repetitions they were met on their own; for S3 and S4, whose clients take turns in 20 blocks per repetition, they also give the median ratio over all paired blocks with an approximate 95 % interval (against \"the best other client\" the reference is the better of two noisy values in each block, which leans against the subject). Alloc/msg: `GC.GetTotalAllocatedBytes(true)` delta over the timed loop (client process only) divided by messages (S3, S4: by round trips). CPU µs/msg: client-process CPU time (all threads, `Environment.CpuUsage`) over the same loop, divided the same way; steadier than wall time when other work shares the cores.");
        md.AppendLine();
        md.AppendLine("| Scenario | Metric | Client | Median | vs ClientWebSocket | Better | Alloc/msg | CPU µs/msg | Runs |");
        md.AppendLine("|---|---|---|---:|---:|---|---:|---:|---|");
        foreach (MetricSeries row in series.OrderBy(s => s.Scenario, StringComparer.Ordinal).ThenBy(s => MetricOrder(s)).ThenBy(s => s.Client))
        {
            MetricSeries? baseline = Find(row.Scenario, row.Metric, ClientKind.ClientWebSocket);
            double ratio = baseline is null ? double.NaN : PairedRatio(row, i => Value(baseline, i));
            string alloc = row.AllocatedPerMessage.Count == 0 ? string.Empty : Bytes(row.MedianAllocated);
            string cpu = row.CpuPerMessage.Count == 0 ? string.Empty : row.MedianCpu.ToString(row.MedianCpu < 100 ? "0.00" : "N0", s_culture);
            string runs = string.Join(", ", row.Values.Select(v => Format(v, row.Unit)));
            md.AppendLine(s_culture, $"| {row.Scenario} | {row.Metric} | {ClientCatalog.Name(row.Client)} | {Format(row.Median, row.Unit)} {row.Unit} | {Ratio(ratio)} | {(row.Better == Better.Higher ? "higher" : "lower")} | {alloc} | {cpu} | {runs} |");
        }

        md.AppendLine();
        md.AppendLine("#### Targets");
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
        const ClientKind conn = ClientKind.DuplexConnection;
        const ClientKind client = ClientKind.DuplexClient;
        const ClientKind cws = ClientKind.ClientWebSocket;
        const ClientKind wsc = ClientKind.WebsocketClient;

        yield return RatioTarget("S1 receive ≥ 1.4× ClientWebSocket", "S1", "receive msg/s", conn, cws, 1.4, atLeast: true);
        yield return RatioTarget("S2 send ≥ 5× ClientWebSocket", "S2", "send msg/s", conn, cws, 5.0, atLeast: true);
        foreach (string metric in new[] { "echo p50", "echo p99" })
        {
            MetricSeries? mine = Find("S3", metric, conn);
            MetricSeries? other1 = Find("S3", metric, cws);
            MetricSeries? other2 = Find("S3", metric, wsc);
            double[] ratios = mine is null || other1 is null || other2 is null
                ? []
                : PerRepetitionRatios(mine, i => Math.Min(Value(other1, i), Value(other2, i)));
            double ratio = ratios.Length == 0 ? double.NaN : MetricSeries.MedianOf(ratios);
            string byBlock = mine is null || other1 is null || other2 is null
                ? string.Empty
                : ByBlock(mine, (repetition, block) => Math.Min(BlockValue(other1, repetition, block), BlockValue(other2, repetition, block)));
            yield return Line(
                $"S3 {metric} ≤ the best other .NET client",
                ratio <= 1.0,
                $"{ratio:0.00}× the best other in the same repetition (medians {Median("S3", metric, conn):0.0} µs vs {Math.Min(Median("S3", metric, cws), Median("S3", metric, wsc)):0.0} µs){MetIn(ratios, r => r <= 1.0)}{byBlock}",
                ratio);
        }

        yield return RatioTarget("S4 1 MiB echo ≥ 1.0× ClientWebSocket", "S4", "1 MiB echo MB/s", conn, cws, 1.0, atLeast: true);
        yield return RatioTarget("S5 managed heap per idle connection ≤ 0.25× ClientWebSocket", "S5", "idle heap B/conn", conn, cws, 0.25, atLeast: false);
        yield return RatioTarget("S5 RSS per idle connection ≤ 0.4× ClientWebSocket", "S5", "idle RSS B/conn", conn, cws, 0.4, atLeast: false);
        yield return RatioTarget("Client layer S1 within 0.9× of the connection layer", "S1", "receive msg/s", client, conn, 0.9, atLeast: true);
        yield return RatioTarget("Client layer S2 within 0.9× of the connection layer", "S2", "send msg/s", client, conn, 0.9, atLeast: true);

        // For latency, "within 0.9×" means at most 1/0.9 of the connection layer's time.
        yield return RatioTarget("Client layer S3 p50 within 0.9× of the connection layer", "S3", "echo p50", client, conn, 1 / 0.9, atLeast: false);
        foreach (ClientKind duplex in new[] { conn, client })
        {
            double sendAlloc = MedianAlloc("S2", "send msg/s", duplex);
            yield return Line($"{ClientCatalog.Name(duplex)}: 0 B per message on the send path (S2)", sendAlloc < 1, $"{sendAlloc:0.0} B/msg", sendAlloc);

            // A 64-character string is 152 bytes on 64-bit .NET.
            double receiveAlloc = MedianAlloc("S1", "receive msg/s", duplex);
            yield return Line($"{ClientCatalog.Name(duplex)}: only the string allocated per received text (S1, 152 B)", receiveAlloc < 160, $"{receiveAlloc:0.0} B/msg", receiveAlloc);
        }
    }

    private string RatioTarget(string title, string scenario, string metric, ClientKind subject, ClientKind reference, double bound, bool atLeast)
    {
        MetricSeries? mine = Find(scenario, metric, subject);
        MetricSeries? theirs = Find(scenario, metric, reference);
        double[] ratios = mine is null || theirs is null ? [] : PerRepetitionRatios(mine, i => Value(theirs, i));
        double ratio = ratios.Length == 0 ? double.NaN : MetricSeries.MedianOf(ratios);
        bool met = atLeast ? ratio >= bound : ratio <= bound;
        string byBlock = mine is null || theirs is null ? string.Empty : ByBlock(mine, (repetition, block) => BlockValue(theirs, repetition, block));
        return Line(title, met, $"{ratio:0.00}×{MetIn(ratios, r => atLeast ? r >= bound : r <= bound)}{byBlock}", ratio);
    }

    /// <summary>
    /// For the interleaved scenarios: the median over every block of every repetition of the ratio to
    /// the reference's block of the same number, with an approximate 95 % interval for that median
    /// (order statistics). Shows whether a verdict near its bound is a real difference or noise.
    /// </summary>
    private static string ByBlock(MetricSeries row, Func<int, int, double> reference)
    {
        var ratios = new List<double>();
        for (int repetition = 0; repetition < row.Blocks.Count; repetition++)
        {
            double[]? blocks = row.Blocks[repetition];
            for (int block = 0; blocks is not null && block < blocks.Length; block++)
            {
                double ratio = blocks[block] / reference(repetition, block);
                if (!double.IsNaN(ratio))
                {
                    ratios.Add(ratio);
                }
            }
        }

        if (ratios.Count < 10)
        {
            return string.Empty;
        }

        ratios.Sort();
        int n = ratios.Count;
        double spread = 0.98 * Math.Sqrt(n);
        int low = Math.Max(0, (int)Math.Floor((n / 2.0) - spread));
        int high = Math.Min(n - 1, (int)Math.Ceiling((n / 2.0) + spread));
        return string.Create(s_culture, $"; by block {MetricSeries.MedianOf(ratios):0.00}× (95 % interval {ratios[low]:0.00}–{ratios[high]:0.00}×, {n} paired blocks)");
    }

    private static double BlockValue(MetricSeries row, int repetition, int block) =>
        repetition < row.Blocks.Count && row.Blocks[repetition] is { } blocks && block < blocks.Length ? blocks[block] : double.NaN;

    /// <summary>How many repetitions on their own met the bound: a median near the bound is a coin toss when few do.</summary>
    private static string MetIn(double[] ratios, Func<double, bool> met) =>
        ratios.Length < 2 ? string.Empty : string.Create(s_culture, $"; met in {ratios.Count(met)} of {ratios.Length} repetitions");

    private static string Line(string title, bool met, string detail, params double[] inputs) =>
        inputs.Any(double.IsNaN)
            ? $"- NOT MEASURED: {title}"
            : string.Create(s_culture, $"- {(met ? "MET" : "NOT MET")}: {title} — {detail}");

    private double Median(string scenario, string metric, ClientKind client) => Find(scenario, metric, client)?.Median ?? double.NaN;

    private double MedianAlloc(string scenario, string metric, ClientKind client) => Find(scenario, metric, client)?.MedianAllocated ?? double.NaN;

    /// <summary>The median over the repetitions of <paramref name="row"/>'s value divided by the reference value of the same repetition.</summary>
    private static double PairedRatio(MetricSeries row, Func<int, double> reference) =>
        MetricSeries.MedianOf(PerRepetitionRatios(row, reference));

    /// <summary><paramref name="row"/>'s value divided by the reference value of the same repetition, for each repetition.</summary>
    private static double[] PerRepetitionRatios(MetricSeries row, Func<int, double> reference) =>
        [.. row.Values.Select((value, i) => value / reference(i))];

    private static double Value(MetricSeries row, int repetition) => repetition < row.Values.Count ? row.Values[repetition] : double.NaN;

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

    private static string Format(double value, string unit)
    {
        if (double.IsNaN(value))
        {
            return "failed";
        }

        return unit switch
        {
            "µs" => value.ToString("0.0", s_culture),
            "MB/s" => value.ToString("N0", s_culture),
            _ => value.ToString("N0", s_culture),
        };
    }

    private static string Ratio(double ratio) => double.IsNaN(ratio) ? "n/a" : ratio.ToString("0.00", s_culture) + "×";

    private static string Bytes(double bytes) => double.IsNaN(bytes) ? "n/a" : bytes < 10_000
        ? bytes.ToString("0.0", s_culture) + " B"
        : (bytes / 1024).ToString("N0", s_culture) + " KiB";
}
