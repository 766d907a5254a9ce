using System.Buffers;
using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks.Micro;

/// <summary>Writing a masked client frame header and parsing a header, for each length form (7, 16, 64 bits).</summary>
[MemoryDiagnoser]
public class FrameHeaderBenchmarks
{
    private readonly byte[] _buffer = new byte[FrameHeader.MaxLength];
    private readonly byte[] _encoded = new byte[FrameHeader.MaxLength];

    [Params(64, 1000, 1048576)]
    public int PayloadLength { get; set; }

    [GlobalSetup]
    public void Setup() => FrameHeader.Write(_encoded, fin: true, 0, Opcode.Binary, PayloadLength, masked: true, unchecked((int)0x9ABCDEF0));

    [Benchmark]
    public int Write() => FrameHeader.Write(_buffer, fin: true, 0, Opcode.Binary, PayloadLength, masked: true, 0x12345678);

    [Benchmark]
    public long Read()
    {
        OperationStatus status = FrameHeader.TryRead(_encoded, out FrameHeader header, out int headerLength, out _);
        return status == OperationStatus.Done ? header.PayloadLength + headerLength : -1;
    }
}
