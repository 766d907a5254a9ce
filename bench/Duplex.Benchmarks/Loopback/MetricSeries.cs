namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// One row of the result table: a metric of one scenario for one client, with the value of every
/// repetition (NaN for a failed run) and, where it applies, allocated bytes, CPU time and context
/// switches per message.
/// </summary>
internal sealed class MetricSeries(string scenario, string metric, ClientKind client, string unit, Better better)
{
    public string Scenario { get; } = scenario;

    public string Metric { get; } = metric;

    public ClientKind Client { get; } = client;

    public string Unit { get; } = unit;

    public Better Better { get; } = better;

    public List<double> Values { get; } = [];

    /// <summary>
    /// For the interleaved scenarios (S3, S4), the value of each block of each repetition (null for a
    /// failed run): blocks with the same number ran in the same stretch of time for every client.
    /// </summary>
    public List<double[]?> Blocks { get; } = [];

    public List<double> AllocatedPerMessage { get; } = [];

    /// <summary>Client-process CPU time (all threads) per message, in microseconds.</summary>
    public List<double> CpuPerMessage { get; } = [];

    /// <summary>
    /// For the interleaved scenarios, the CPU time per round trip of each block of each repetition
    /// (null for a failed run), to pair with the reference client's block of the same number.
    /// </summary>
    public List<double[]?> CpuBlocks { get; } = [];

    /// <summary>Client-process context switches (all threads) per message; NaN where they cannot be read.</summary>
    public List<double> ContextSwitchesPerMessage { get; } = [];

    public double Median => MedianOf(Values);

    public double MedianCpu => MedianOf(CpuPerMessage);

    public double MedianAllocated => MedianOf(AllocatedPerMessage);

    public double MedianContextSwitches => MedianOf(ContextSwitchesPerMessage);

    /// <summary>The median of the runs that succeeded; NaN when none did.</summary>
    public static double MedianOf(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Where(v => !double.IsNaN(v)).Order()];
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
