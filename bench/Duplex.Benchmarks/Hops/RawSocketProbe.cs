using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Duplex.Benchmarks.Hops;

/// <summary>
/// The <c>hops-raw</c> command: the floor under every client's S3 round trip, measured the same way
/// as <see cref="HopsProbe"/> with no WebSocket library at all — one 64-byte masked text frame written
/// to a <see cref="Socket"/>, the 66-byte echo read back. Two ways of waiting:
/// <list type="bullet">
/// <item><c>async</c>: <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/>
/// and <c>ReceiveAsync</c>, as every .NET client waits: the epoll thread sees the echo, a thread-pool
/// worker runs the continuation.</item>
/// <item><c>blocking</c>: a socket that never sees an asynchronous call (connected, upgraded and used
/// synchronously) on a thread of its own, blocked in <c>recv</c> between round trips: the kernel wakes
/// that thread and nothing else.</item>
/// </list>
/// Benchmark code only: it trusts the server (Duplex's bench server) to answer the upgrade with 101 and
/// each frame with one unmasked 64-byte text frame.
/// </summary>
internal static class RawSocketProbe
{
    private const int PayloadLength = 64;
    private const int EchoLength = 2 + PayloadLength;
    private const int WarmUpRoundTrips = 50_000;

    public static int RunChild(IReadOnlyList<string> args)
    {
        if (args.Count != 3 || args[0] is not ("async" or "blocking"))
        {
            throw new ArgumentException("usage: hops-raw async|blocking <echo url> <round trips>");
        }

        bool blocking = args[0] == "blocking";
        var uri = new Uri(args[1]);
        int roundTrips = int.Parse(args[2], CultureInfo.InvariantCulture);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        byte[] frame = MaskedTextFrame();
        byte[] buffer = new byte[4096];

        Measurement result;
        if (blocking)
        {
            // Everything on one thread of its own, synchronously: the socket is never registered with
            // the runtime's epoll thread.
            Measurement? measured = null;
            Exception? failure = null;
            var thread = new Thread(() =>
            {
                try
                {
                    socket.Connect(new IPEndPoint(IPAddress.Loopback, uri.Port));
                    Upgrade(socket, uri, buffer, null).GetAwaiter().GetResult();
                    // Completes synchronously: this thread runs every round trip.
                    measured = MeasureAsync(roundTrips, count =>
                    {
                        for (int i = 0; i < count; i++)
                        {
                            socket.Send(frame);
                            ReceiveEcho(socket, buffer);
                        }

                        return Task.CompletedTask;
                    }).GetAwaiter().GetResult();
                }
#pragma warning disable CA1031 // Rethrown on the caller's thread below.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    failure = ex;
                }
            })
            { IsBackground = true, Name = "blocking reader" };
            thread.Start();
            if (!thread.Join(TimeSpan.FromMinutes(3)))
            {
                throw new TimeoutException("The blocking round trips did not finish within 3 minutes.");
            }

            result = measured ?? throw new InvalidOperationException("The blocking round trips failed.", failure);
        }
        else
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            CancellationToken token = timeout.Token;
            result = Task.Run(async () =>
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, uri.Port), token);
                await Upgrade(socket, uri, buffer, token);
                return await MeasureAsync(roundTrips, async count =>
                {
                    for (int i = 0; i < count; i++)
                    {
                        await socket.SendAsync(frame, SocketFlags.None, token);
                        int received = 0;
                        while (received < EchoLength)
                        {
                            int read = await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, token);
                            received += read > 0 ? read : throw new IOException("The server closed the connection.");
                        }
                    }
                });
            }, token).GetAwaiter().GetResult();
        }

        CultureInfo c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine(c, $"#### Raw socket, {(blocking ? "blocking thread (floor)" : "async (the pool's path)")}");
        md.AppendLine();
        md.AppendLine(c, $"- Warm-up: {WarmUpRoundTrips:N0} round trips");
        md.AppendLine(c, $"- {roundTrips:N0} round trips: wall {result.Wall.TotalMicroseconds / roundTrips:0.0} µs, CPU {result.Cpu.TotalMicroseconds / roundTrips:0.0} µs (user {result.User.TotalMicroseconds / roundTrips:0.0}, kernel {result.Kernel.TotalMicroseconds / roundTrips:0.0}), thread-pool work items {result.WorkItems / (double)roundTrips:0.00} per round trip");
        md.AppendLine();
        md.AppendLine("| threads | count | voluntary | involuntary | CPU µs |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        double microsPerTick = 1_000_000.0 / 100;
        foreach (ThreadActivity.Activity activity in result.Threads)
        {
            md.AppendLine(c, $"| {activity.Name} | {activity.Threads} | {activity.Voluntary / (double)roundTrips:0.00} | {activity.Involuntary / (double)roundTrips:0.00} | {activity.Ticks * microsPerTick / roundTrips:0.0} |");
        }

        Console.Out.Write(md.ToString());
        return 0;
    }

    /// <summary>Warms the round trips up with <paramref name="run"/>, then times <paramref name="count"/> of them.</summary>
    private static async Task<Measurement> MeasureAsync(int count, Func<int, Task> run)
    {
        await run(WarmUpRoundTrips);
        ThreadActivity threadsBefore = ThreadActivity.Take();
        long itemsBefore = ThreadPool.CompletedWorkItemCount;
        Environment.ProcessCpuUsage before = Environment.CpuUsage;
        long started = Stopwatch.GetTimestamp();
        await run(count);
        TimeSpan wall = Stopwatch.GetElapsedTime(started);
        Environment.ProcessCpuUsage after = Environment.CpuUsage;
        return new Measurement(
            wall,
            after.TotalTime - before.TotalTime,
            after.UserTime - before.UserTime,
            after.PrivilegedTime - before.PrivilegedTime,
            ThreadPool.CompletedWorkItemCount - itemsBefore,
            ThreadActivity.Take().Since(threadsBefore));
    }

    private static async Task Upgrade(Socket socket, Uri uri, byte[] buffer, CancellationToken? token)
    {
        string request = string.Create(CultureInfo.InvariantCulture, $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        byte[] bytes = Encoding.ASCII.GetBytes(request);
        int received = 0;
        if (token is { } t)
        {
            await socket.SendAsync(bytes, SocketFlags.None, t);
        }
        else
        {
            socket.Send(bytes);
        }

        while (!Encoding.ASCII.GetString(buffer, 0, received).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            int read = token is { } ct
                ? await socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, ct)
                : socket.Receive(buffer, received, buffer.Length - received, SocketFlags.None);
            received += read > 0 ? read : throw new IOException("The server closed the connection during the upgrade.");
        }

        if (!Encoding.ASCII.GetString(buffer, 0, received).StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("The server did not switch protocols.");
        }
    }

    private static void ReceiveEcho(Socket socket, byte[] buffer)
    {
        int received = 0;
        while (received < EchoLength)
        {
            int read = socket.Receive(buffer, received, buffer.Length - received, SocketFlags.None);
            received += read > 0 ? read : throw new IOException("The server closed the connection.");
        }
    }

    /// <summary>A final text frame of 64 'x', masked with a zero key (the key's value does not matter here).</summary>
    private static byte[] MaskedTextFrame()
    {
        byte[] frame = new byte[2 + 4 + PayloadLength];
        frame[0] = 0x81;
        frame[1] = 0x80 | PayloadLength;
        frame.AsSpan(6).Fill((byte)'x');
        return frame;
    }

    private readonly record struct Measurement(TimeSpan Wall, TimeSpan Cpu, TimeSpan User, TimeSpan Kernel, long WorkItems, IReadOnlyList<ThreadActivity.Activity> Threads);
}
