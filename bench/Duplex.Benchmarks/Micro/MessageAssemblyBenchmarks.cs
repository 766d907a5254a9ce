using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks.Micro;

/// <summary>
/// <c>FrameDecoder.Decode</c> over one receive buffer: 256 unmasked 64-byte text frames (header
/// parsing, framing checks and UTF-8 validation per frame), and one 1 MiB binary frame.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class MessageAssemblyBenchmarks
{
    private const int SmallFrames = 256;
    private const int SmallPayload = 64;
    private const int LargePayload = 1024 * 1024;
    private readonly FrameDecoder _decoder = new(maxMessageSize: 4 * LargePayload);
    private byte[] _small = [];
    private byte[] _large = [];

    [GlobalSetup]
    public void Setup()
    {
        byte[] text = Utf8Payloads.Ascii(SmallPayload);
        _small = new byte[SmallFrames * (2 + SmallPayload)];
        for (int i = 0; i < SmallFrames; i++)
        {
            Span<byte> frame = _small.AsSpan(i * (2 + SmallPayload));
            int header = FrameHeader.Write(frame, fin: true, 0, Opcode.Text, SmallPayload, masked: false, 0);
            text.CopyTo(frame.Slice(header));
        }

        _large = new byte[FrameHeader.GetLength(LargePayload, masked: false) + LargePayload];
        int largeHeader = FrameHeader.Write(_large, fin: true, 0, Opcode.Binary, LargePayload, masked: false, 0);
        new Random(3).NextBytes(_large.AsSpan(largeHeader));
    }

    [Benchmark]
    [BytesPerOperation(SmallFrames * SmallPayload)]
    public int TextFrames256x64B() => DecodeAll(_small);

    [Benchmark]
    [BytesPerOperation(LargePayload)]
    public int BinaryFrame1MiB() => DecodeAll(_large);

    private int DecodeAll(ReadOnlySpan<byte> input)
    {
        int messages = 0;
        while (!input.IsEmpty)
        {
            DecodeStatus status = _decoder.Decode(input, out int consumed, out DecodedFrame frame);
            if (status == DecodeStatus.Violation)
            {
                throw new InvalidOperationException(_decoder.Violation.Message);
            }

            if (status == DecodeStatus.Data && frame.EndOfMessage)
            {
                messages++;
            }

            input = input.Slice(consumed);
        }

        return messages;
    }
}
