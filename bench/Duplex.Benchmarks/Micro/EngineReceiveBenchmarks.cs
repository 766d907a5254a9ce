using System.Net.WebSockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Duplex.Client;
using Duplex.Connection;
using Duplex.Protocol;

namespace Duplex.Benchmarks.Micro;

/// <summary>
/// The receive engines without a network: 10,000 unmasked 64-byte text frames served from memory
/// as fast as they are asked for, each message materialized as a string. Duplex's connection and
/// client layers against .NET's own engine (<see cref="WebSocket.CreateFromStream(Stream, WebSocketCreationOptions)"/>,
/// the engine inside ClientWebSocket). Per operation = per message; setup (one connection per
/// invocation) is spread over the 10,000.
/// </summary>
[MemoryDiagnoser]
public class EngineReceiveBenchmarks
{
    private const int Messages = 10_000;
    private const int Payload = 64;
    private readonly byte[] _buffer = new byte[4096];
    private byte[] _frames = [];

    [GlobalSetup]
    public void Setup()
    {
        byte[] text = Utf8Payloads.Ascii(Payload);
        _frames = new byte[Messages * (2 + Payload)];
        for (int i = 0; i < Messages; i++)
        {
            Span<byte> frame = _frames.AsSpan(i * (2 + Payload));
            int header = FrameHeader.Write(frame, fin: true, 0, Opcode.Text, Payload, masked: false, 0);
            text.CopyTo(frame.Slice(header));
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public async Task<long> DotNetEngine()
    {
        using var stream = new ReplayStream(_frames);
        using WebSocket socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        long chars = 0;
        for (int i = 0; i < Messages; i++)
        {
            int total = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(_buffer.AsMemory(total), CancellationToken.None);
                total += result.Count;
            }
            while (!result.EndOfMessage);

            chars += Encoding.UTF8.GetString(_buffer, 0, total).Length;
        }

        socket.Abort();
        return chars;
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public Task<long> DuplexConnection() => ReceiveWithConnectionAsync(new WebSocketConnectionOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan });

    /// <summary>
    /// The same with a receive queue of 16 instead of 128: with fewer pooled chunks in flight than
    /// ArrayPool.Shared keeps per size, the per-message chunk stops missing the pool.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public Task<long> DuplexConnectionQueue16() => ReceiveWithConnectionAsync(new WebSocketConnectionOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan, ReceiveQueueCapacity = 16 });

    private async Task<long> ReceiveWithConnectionAsync(WebSocketConnectionOptions options)
    {
        var stream = new ReplayStream(_frames);
        using WebSocketConnection connection = WebSocketConnection.FromStream(stream, options);
        long chars = 0;
        for (int i = 0; i < Messages; i++)
        {
            WebSocketMessage message = await connection.ReceiveMessageAsync();
            chars += message.Text!.Length;
        }

        return chars;
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task<long> DuplexClientOnMessage()
    {
        using var client = new WebSocketClient(ReplayTransport.ClientOptions(_frames));
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        int count = 0;
        long chars = 0;
        client.OnMessage((message, _) =>
        {
            chars += message.Text!.Length;
            if (++count == Messages)
            {
                done.TrySetResult(chars);
            }

            return ValueTask.CompletedTask;
        });
        await client.ConnectAsync(new Uri("ws://127.0.0.1/replay"));
        return await done.Task;
    }
}
