using System.Diagnostics;

namespace Duplex.Cli.Bench;

/// <summary>Percentiles of round-trip times, in milliseconds (nearest rank on the sorted samples).</summary>
internal sealed record LatencySummary(double Mean, double P50, double P90, double P99, double P999, double Max)
{
    /// <summary>Summarizes <see cref="Stopwatch"/> tick counts; sorts them in place.</summary>
    public static LatencySummary FromTicks(long[] ticks)
    {
        if (ticks.Length == 0)
        {
            return new LatencySummary(0, 0, 0, 0, 0, 0);
        }

        Array.Sort(ticks);
        double Milliseconds(long value) => value * 1000.0 / Stopwatch.Frequency;
        double Percentile(double p) => Milliseconds(ticks[Math.Clamp((int)Math.Ceiling(p * ticks.Length) - 1, 0, ticks.Length - 1)]);
        double mean = 0;
        foreach (long value in ticks)
        {
            mean += Milliseconds(value);
        }

        return new LatencySummary(mean / ticks.Length, Percentile(0.50), Percentile(0.90), Percentile(0.99), Percentile(0.999), Milliseconds(ticks[^1]));
    }
}
