using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Duplex.Benchmarks.Server;
using Duplex.Connection;

namespace Duplex.Benchmarks.Compression;

/// <summary>
/// The <c>compression</c> command: Duplex with and without permessage-deflate beside
/// <see cref="ClientWebSocket"/> with and without <c>DangerousDeflateOptions</c>, echoing a JSON-like
/// payload and an incompressible one through a Kestrel child process that compresses when offered.
/// Reports messages per second (a window of messages in flight) and the client process's CPU time per
/// echoed message (the server runs in its own process). <c>--messages N</c>, <c>--size BYTES</c>, <c>--reps N</c>.
/// </summary>
internal static class CompressionBench
{
    private const int Window = 16;
    private const int Variants = 64;

    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        int messages = IntOption(args, "--messages", 20_000);
        int size = IntOption(args, "--size", 2048);
        int reps = IntOption(args, "--reps", 3);
        ProcessStartInfo start = ServerProcess.SelfStartInfo("compression-server");
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        using Process server = Process.Start(start) ?? throw new InvalidOperationException("The server did not start.");
        try
        {
            string line = await server.StandardOutput.ReadLineAsync().ConfigureAwait(false) ?? throw new InvalidOperationException("The server exited.");
            var uri = new Uri(line["listening ".Length..].Trim() + "/echo");
            // 64 different payloads of each kind, cycled: the same message over and over would make
            // context takeover compress every repeat to a few bytes.
            (string Name, byte[][] Payloads)[] payloads =
            [
                ("JSON-like", [.. Enumerable.Range(0, Variants).Select(i => JsonLike(size, seed: i))]),
                ("incompressible", [.. Enumerable.Range(0, Variants).Select(_ => RandomNumberGenerator.GetBytes(size))]),
            ];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"### Compression: {messages} echoes of {size} B, {Window} in flight, best of {reps}, {Environment.ProcessorCount} cores"));
            Console.WriteLine();
            Console.WriteLine("| payload | client | payload on the wire (each alone) | msg/s | client CPU µs/msg |");
            Console.WriteLine("|---|---|---:|---:|---:|");
            foreach ((string name, byte[][] payload) in payloads)
            {
                string wire = string.Create(CultureInfo.InvariantCulture, $"{payload.Average(CompressedSize):F0} B");
                foreach ((string client, Func<IEchoClient> create) in Clients())
                {
                    double bestRate = 0;
                    double bestCpu = double.MaxValue;
                    for (int rep = 0; rep < reps; rep++)
                    {
                        await using IEchoClient echo = create();
                        await echo.ConnectAsync(uri).ConfigureAwait(false);
                        await RunEchoesAsync(echo, payload, 500).ConfigureAwait(false);
                        TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                        long started = Stopwatch.GetTimestamp();
                        await RunEchoesAsync(echo, payload, messages).ConfigureAwait(false);
                        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
                        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
                        bestRate = Math.Max(bestRate, messages / elapsed.TotalSeconds);
                        bestCpu = Math.Min(bestCpu, cpu.TotalMicroseconds / messages);
                    }

                    bool compressed = client.Contains("deflate", StringComparison.Ordinal);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {client} | {(compressed ? wire : $"{payload[0].Length} B")} | {bestRate:N0} | {bestCpu:N1} |"));
                }
            }

            return 0;
        }
        finally
        {
            server.StandardInput.Close();
            if (!server.WaitForExit(10_000))
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    private static IEnumerable<(string, Func<IEchoClient>)> Clients()
    {
        yield return ("Duplex", () => new DuplexEcho(compress: false));
        yield return ("Duplex + deflate", () => new DuplexEcho(compress: true));
        yield return ("ClientWebSocket", () => new ClientWebSocketEcho(compress: false));
        yield return ("ClientWebSocket + deflate", () => new ClientWebSocketEcho(compress: true));
    }

    /// <summary>Sends <paramref name="count"/> binary messages with up to <see cref="Window"/> unanswered, and receives every echo.</summary>
    private static async Task RunEchoesAsync(IEchoClient client, byte[][] payloads, int count)
    {
        using var window = new SemaphoreSlim(Window, Window);
        Task receive = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++)
            {
                await client.ReceiveAsync().ConfigureAwait(false);
                window.Release();
            }
        });
        for (int i = 0; i < count; i++)
        {
            await window.WaitAsync().ConfigureAwait(false);
            await client.SendAsync(payloads[i % payloads.Length]).ConfigureAwait(false);
        }

        await receive.ConfigureAwait(false);
    }

    /// <summary>Market-data-like JSON objects, the kind of feed compression is for.</summary>
    private static byte[] JsonLike(int size, int seed)
    {
        var random = new Random(seed);
        var builder = new StringBuilder("[");
        string[] symbols = ["BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD"];
        while (builder.Length < size - 120)
        {
            builder.Append(CultureInfo.InvariantCulture, $"{{\"type\":\"ticker\",\"symbol\":\"{symbols[random.Next(symbols.Length)]}\",\"price\":{random.Next(1000, 99999)}.{random.Next(10, 99)},\"size\":{random.NextDouble():F4},\"side\":\"{(random.Next(2) == 0 ? "buy" : "sell")}\"}},");
        }

        builder.Append("{}]");
        byte[] bytes = Encoding.UTF8.GetBytes(builder.ToString());
        return bytes.Length > size ? bytes[..size] : bytes;
    }

    private static int CompressedSize(byte[] payload)
    {
        using var output = new MemoryStream();
        using var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = WebSocketCompressionOptions.DefaultCompressionLevel }, leaveOpen: true);
        deflate.Write(payload);
        deflate.Flush();
        return (int)output.Length - 4;
    }

    private static int IntOption(IReadOnlyList<string> args, string name, int fallback)
    {
        for (int i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == name)
            {
                return int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            }
        }

        return fallback;
    }

    private interface IEchoClient : IAsyncDisposable
    {
        Task ConnectAsync(Uri uri);

        ValueTask SendAsync(byte[] payload);

        ValueTask ReceiveAsync();
    }

    private sealed class DuplexEcho(bool compress) : IEchoClient
    {
        private readonly WebSocketConnection _connection = new(new WebSocketConnectionOptions
        {
            KeepAliveInterval = Timeout.InfiniteTimeSpan,
            Compression = { Enabled = compress },
        });

        public Task ConnectAsync(Uri uri) => _connection.ConnectAsync(uri);

        public ValueTask SendAsync(byte[] payload) => _connection.SendBinaryAsync(payload);

        public async ValueTask ReceiveAsync() => await _connection.ReceiveMessageAsync().ConfigureAwait(false);

        public ValueTask DisposeAsync() => _connection.DisposeAsync();
    }

    private sealed class ClientWebSocketEcho : IEchoClient
    {
        private readonly ClientWebSocket _socket = new();
        private readonly byte[] _buffer = new byte[1024 * 1024];

        public ClientWebSocketEcho(bool compress)
        {
            _socket.Options.KeepAliveInterval = TimeSpan.Zero;
            if (compress)
            {
                _socket.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
            }
        }

        public Task ConnectAsync(Uri uri) => _socket.ConnectAsync(uri, CancellationToken.None);

        public ValueTask SendAsync(byte[] payload) => _socket.SendAsync(payload.AsMemory(), WebSocketMessageType.Binary, true, CancellationToken.None);

        public async ValueTask ReceiveAsync()
        {
            ValueWebSocketReceiveResult result;
            do
            {
                result = await _socket.ReceiveAsync(_buffer.AsMemory(), CancellationToken.None).ConfigureAwait(false);
            }
            while (!result.EndOfMessage);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
            }
            catch (WebSocketException)
            {
                // Measured already.
            }

            _socket.Dispose();
        }
    }
}
