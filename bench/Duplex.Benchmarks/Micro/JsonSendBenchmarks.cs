using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks.Micro;

/// <summary>
/// The JSON send path up to the socket: source-generated serialization of a small object to UTF-8,
/// then a masked text frame written into a send buffer (header, payload copy, fresh mask key,
/// masking) as <c>WebSocketConnection</c> does. <c>SerializeToUtf8Bytes</c> is what
/// <c>WebSocketClient.SendJsonAsync</c> calls today; <c>Utf8JsonWriter</c> into a reused buffer
/// shows what an allocation-free path would cost.
/// </summary>
[MemoryDiagnoser]
public class JsonSendBenchmarks
{
    private readonly Quote _quote = new("EURUSD", 1.08412, 1.08419, 123_456_789, new DateTime(2025, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc));
    private readonly byte[] _sendBuffer = new byte[16 * 1024];
    private readonly MaskKeySource _keys = new();
    private readonly ArrayBufferWriter<byte> _json = new(1024);
    private Utf8JsonWriter _writer = null!;

    [GlobalSetup]
    public void Setup() => _writer = new Utf8JsonWriter(_json);

    [Benchmark(Baseline = true)]
    public int SerializeToUtf8BytesThenFrame()
    {
        byte[] payload = JsonSerializer.SerializeToUtf8Bytes(_quote, BenchJsonContext.Default.Quote);
        return WriteFrame(payload);
    }

    [Benchmark]
    public int Utf8JsonWriterThenFrame()
    {
        _json.ResetWrittenCount();
        _writer.Reset(_json);
        JsonSerializer.Serialize(_writer, _quote, BenchJsonContext.Default.Quote);
        return WriteFrame(_json.WrittenSpan);
    }

    [Benchmark]
    public int SerializeOnly()
    {
        _json.ResetWrittenCount();
        _writer.Reset(_json);
        JsonSerializer.Serialize(_writer, _quote, BenchJsonContext.Default.Quote);
        return _json.WrittenCount;
    }

    private int WriteFrame(ReadOnlySpan<byte> payload)
    {
        int maskKey = _keys.Next();
        int header = FrameHeader.Write(_sendBuffer, fin: true, 0, Opcode.Text, payload.Length, masked: true, maskKey);
        Span<byte> destination = _sendBuffer.AsSpan(header, payload.Length);
        payload.CopyTo(destination);
        PayloadMask.Apply(destination, maskKey, 0);
        return header + payload.Length;
    }
}
