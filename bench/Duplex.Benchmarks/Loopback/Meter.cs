using System.Diagnostics;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Wall time, client-process CPU time (every thread), allocated bytes (every thread,
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/>) and context switches (<see cref="ContextSwitches"/>)
/// over a timed loop. CPU time per message holds up better than wall time when other work competes
/// for the two cores; context switches per message count the thread wake-ups a message costs.
/// </summary>
internal readonly struct Meter
{
    private readonly long _started;
    private readonly TimeSpan _cpu;
    private readonly long _allocated;
    private readonly long _switches;
    private readonly AllocationSampler? _sampler;

    private Meter(long started, TimeSpan cpu, long allocated, long switches, AllocationSampler? sampler)
    {
        _started = started;
        _cpu = cpu;
        _allocated = allocated;
        _switches = switches;
        _sampler = sampler;
    }

    /// <summary>Set by <c>--alloc-types</c>: every timed loop also samples allocations by type.</summary>
    public static AllocationSampler? Sampler { get; set; }

    public static Meter Start()
    {
        AllocationSampler? sampler = Sampler;
        sampler?.Start();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        long switches = ContextSwitches.Read();
        TimeSpan cpu = Environment.CpuUsage.TotalTime;
        return new Meter(Stopwatch.GetTimestamp(), cpu, allocated, switches, sampler);
    }

    public Reading Stop(int operations)
    {
        TimeSpan elapsed = Stopwatch.GetElapsedTime(_started);
        TimeSpan cpu = Environment.CpuUsage.TotalTime - _cpu;
        long switches = _switches < 0 ? -1 : ContextSwitches.Read() - _switches;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocated;
        string? types = _sampler is null
            ? null
            : string.Join(", ", _sampler.Stop(6).Select(t => FormattableString.Invariant($"{t.Type} {t.Share:P0}")));
        return new Reading(operations, elapsed, cpu, allocated, switches, types);
    }

    /// <summary>
    /// What one timed loop cost. <paramref name="Allocated"/> and <paramref name="ContextSwitches"/>
    /// are -1 where the client's runtime cannot tell (allocations of a client that is not .NET,
    /// context switches off Linux).
    /// </summary>
    internal readonly record struct Reading(int Operations, TimeSpan Elapsed, TimeSpan Cpu, long Allocated, long ContextSwitches, string? AllocatedTypes = null)
    {
        public double PerSecond => Operations / Elapsed.TotalSeconds;

        /// <summary>Two timed loops of the same client taken together (interleaved scenarios time a client in blocks).</summary>
        public Reading Plus(Reading other) =>
            new(
                Operations + other.Operations,
                Elapsed + other.Elapsed,
                Cpu + other.Cpu,
                Allocated < 0 || other.Allocated < 0 ? -1 : Allocated + other.Allocated,
                ContextSwitches < 0 || other.ContextSwitches < 0 ? -1 : ContextSwitches + other.ContextSwitches,
                AllocatedTypes ?? other.AllocatedTypes);

        public double AllocatedPerOperation => Allocated < 0 ? double.NaN : Allocated / (double)Operations;

        public double CpuMicrosecondsPerOperation => Cpu.TotalMicroseconds / Operations;

        public double ContextSwitchesPerOperation => ContextSwitches < 0 ? double.NaN : ContextSwitches / (double)Operations;

        public override string ToString() =>
            FormattableString.Invariant($"{PerSecond:N0}/s, {CpuMicrosecondsPerOperation:0.00} µs CPU, {AllocatedPerOperation:0.0} B, {ContextSwitchesPerOperation:0.000} context switches per operation") +
            (AllocatedTypes is null ? string.Empty : $" [allocated: {AllocatedTypes}]");
    }
}
