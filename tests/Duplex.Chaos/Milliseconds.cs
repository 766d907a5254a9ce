using System.Diagnostics;

namespace Duplex.Chaos;

/// <summary>Durations as the report writes them: milliseconds with one decimal.</summary>
internal static class Milliseconds
{
    public static double Of(TimeSpan span) => Math.Round(span.TotalMilliseconds, 1);

    public static double Between(long from, long to) => Of(Stopwatch.GetElapsedTime(from, to));
}
