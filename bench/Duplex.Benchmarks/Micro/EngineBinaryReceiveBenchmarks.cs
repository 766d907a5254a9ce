using System.Net.WebSockets;
using BenchmarkDotNet.Attributes;
using Duplex.Connection;
using Duplex.Protocol;

namespace Duplex.Benchmarks.Micro;

/// <summary>
/// Binary messages received into the caller's buffer (<c>ReceiveAsync(Memory&lt;byte&gt;)</c>), without a
/// network: 10,000 unmasked binary frames served from memory, read into one reused buffer. The target is
/// no allocation per message. Duplex's connection against .NET's engine (the one inside ClientWebSocket).
/// </summary>
[MemoryDiagnoser]
public class EngineBinaryReceiveBenchmarks
{
    private const int Messages = 10_000;
    private byte[] _frames = [];
    private byte[] _buffer = [];

    [Params(64, 16 * 1024)]
    public int Payload { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] payload = new byte[Payload];
        new Random(7).NextBytes(payload);
        int frameLength = FrameHeader.GetLength(Payload, masked: false) + Payload;
        _frames = new byte[Messages * frameLength];
        for (int i = 0; i < Messages; i++)
        {
            Span<byte> frame = _frames.AsSpan(i * frameLength);
            int header = FrameHeader.Write(frame, fin: true, 0, Opcode.Binary, Payload, masked: false, 0);
            payload.CopyTo(frame.Slice(header));
        }

        _buffer = new byte[Payload];
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public async Task<long> DotNetEngine()
    {
        using var stream = new ReplayStream(_frames);
        using WebSocket socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        long bytes = 0;
        for (int i = 0; i < Messages; i++)
        {
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(_buffer.AsMemory(), CancellationToken.None);
                bytes += result.Count;
            }
            while (!result.EndOfMessage);
        }

        socket.Abort();
        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task<long> DuplexConnection() => ReceiveWithConnectionAsync(new WebSocketConnectionOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan });

    /// <summary>The same with 64 KiB reads from the start (<c>ReceiveBufferSize</c>) instead of growing to them.</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public Task<long> DuplexConnection64K() => ReceiveWithConnectionAsync(new WebSocketConnectionOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan, ReceiveBufferSize = 64 * 1024 });

    private async Task<long> ReceiveWithConnectionAsync(WebSocketConnectionOptions options)
    {
        var stream = new ReplayStream(_frames);
        using WebSocketConnection connection = WebSocketConnection.FromStream(stream, options);
        long bytes = 0;
        for (int i = 0; i < Messages; i++)
        {
            ValueWebSocketReceiveResult result;
            do
            {
                result = await connection.ReceiveAsync(_buffer.AsMemory());
                bytes += result.Count;
            }
            while (!result.EndOfMessage);
        }

        return bytes;
    }
}
