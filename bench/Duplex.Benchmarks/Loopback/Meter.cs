using System.Diagnostics;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Wall time, client-process CPU time (every thread) and allocated bytes (every thread,
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/>) over a timed loop. CPU time per message holds up
/// better than wall time when other work competes for the two cores.
/// </summary>
internal readonly struct Meter
{
    private readonly long _started;
    private readonly TimeSpan _cpu;
    private readonly long _allocated;

    private Meter(long started, TimeSpan cpu, long allocated)
    {
        _started = started;
        _cpu = cpu;
        _allocated = allocated;
    }

    public static Meter Start()
    {
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        TimeSpan cpu = Environment.CpuUsage.TotalTime;
        return new Meter(Stopwatch.GetTimestamp(), cpu, allocated);
    }

    public Reading Stop(int operations)
    {
        TimeSpan elapsed = Stopwatch.GetElapsedTime(_started);
        TimeSpan cpu = Environment.CpuUsage.TotalTime - _cpu;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocated;
        return new Reading(operations, elapsed, cpu, allocated);
    }

    /// <summary>What one timed loop cost.</summary>
    internal readonly record struct Reading(int Operations, TimeSpan Elapsed, TimeSpan Cpu, long Allocated)
    {
        public double PerSecond => Operations / Elapsed.TotalSeconds;

        public double AllocatedPerOperation => Allocated / (double)Operations;

        public double CpuMicrosecondsPerOperation => Cpu.TotalMicroseconds / Operations;

        public override string ToString() =>
            FormattableString.Invariant($"{PerSecond:N0}/s, {CpuMicrosecondsPerOperation:0.00} µs CPU, {AllocatedPerOperation:0.0} B per operation");
    }
}
