using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks.Micro;

/// <summary>RFC 6455 §5.3 masking in place: the vectorized <c>PayloadMask.Apply</c> against the byte-at-a-time reference.</summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class MaskingBenchmarks
{
    private byte[] _data = [];

    [Params(64, 1024, 65536, 1048576)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(1).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public int Scalar() => PayloadMask.ApplyScalar(_data, _data, 0x1F2E3D4C, 1);

    [Benchmark]
    public int Vectorized() => PayloadMask.Apply(_data, _data, 0x1F2E3D4C, 1);
}
