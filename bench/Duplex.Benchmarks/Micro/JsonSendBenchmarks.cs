using System.Buffers;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Duplex.Client;
using Duplex.Protocol;

namespace Duplex.Benchmarks.Micro;

/// <summary>
/// The JSON send path up to the socket: source-generated serialization of a small object to UTF-8,
/// then a masked text frame written into a send buffer (header, payload copy, fresh mask key,
/// masking) as <c>WebSocketConnection</c> does: <c>SerializeToUtf8Bytes</c> (an array per message)
/// against <c>Utf8JsonWriter</c> into a reused buffer. <see cref="ClientSendJsonAsync"/> is the whole
/// <c>WebSocketClient.SendJsonAsync</c> call, into a stream whose writes complete at once.
/// </summary>
[MemoryDiagnoser]
public class JsonSendBenchmarks
{
    private readonly Quote _quote = new("EURUSD", 1.08412, 1.08419, 123_456_789, new DateTime(2025, 1, 2, 3, 4, 5, 678, DateTimeKind.Utc));
    private readonly byte[] _sendBuffer = new byte[16 * 1024];
    private readonly MaskKeySource _keys = new();
    private readonly ArrayBufferWriter<byte> _json = new(1024);
    private Utf8JsonWriter _writer = null!;

    private const int Messages = 10_000;

    [GlobalSetup]
    public void Setup() => _writer = new Utf8JsonWriter(_json);

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task<long> ClientSendJsonAsync()
    {
        using var client = new WebSocketClient(ReplayTransport.ClientOptions([])); // Dispose aborts: the replay stream never answers a Close
        await client.ConnectAsync(new Uri("ws://127.0.0.1/replay"));
        for (int i = 0; i < Messages; i++)
        {
            await client.SendJsonAsync(_quote, BenchJsonContext.Default.Quote);
        }

        return Messages;
    }

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
