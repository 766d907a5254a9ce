using System.Net.WebSockets;
using System.Text;
using BenchmarkDotNet.Attributes;
using Duplex.Client;
using Duplex.Connection;

namespace Duplex.Benchmarks.Micro;

/// <summary>
/// The send engines without a network: 10,000 awaited 64-character text sends into a stream whose
/// writes complete at once, so only the engine's own work per message remains (locks, framing,
/// masking, completion). Duplex's connection and client layers against .NET's engine.
/// </summary>
[MemoryDiagnoser]
public class EngineSendBenchmarks
{
    private const int Messages = 10_000;
    private readonly string _text = new('x', 64);
    private readonly byte[] _encoded = new byte[256];

    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public async Task<long> DotNetEngine()
    {
        using var stream = new ReplayStream([]);
        using WebSocket socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        for (int i = 0; i < Messages; i++)
        {
            int length = Encoding.UTF8.GetBytes(_text, _encoded);
            await socket.SendAsync(_encoded.AsMemory(0, length), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        }

        socket.Abort();
        return stream.BytesWritten;
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task<long> DuplexConnection()
    {
        var stream = new ReplayStream([]);
        using WebSocketConnection connection = WebSocketConnection.FromStream(stream, new WebSocketConnectionOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan });
        for (int i = 0; i < Messages; i++)
        {
            await connection.SendTextAsync(_text);
        }

        return stream.BytesWritten;
    }

    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task<long> DuplexClient()
    {
        using var client = new WebSocketClient(ReplayTransport.ClientOptions([])); // Dispose aborts: the replay stream never answers a Close
        await client.ConnectAsync(new Uri("ws://127.0.0.1/replay"));
        for (int i = 0; i < Messages; i++)
        {
            await client.SendTextAsync(_text);
        }

        return Messages;
    }
}
