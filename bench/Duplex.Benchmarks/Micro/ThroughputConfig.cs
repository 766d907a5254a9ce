using BenchmarkDotNet.Configs;

namespace Duplex.Benchmarks.Micro;

/// <summary>Adds the GB/s column to a benchmark class.</summary>
public sealed class ThroughputConfig : ManualConfig
{
    public ThroughputConfig()
    {
        AddColumn(new ThroughputColumn());
    }
}
