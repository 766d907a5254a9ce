using System.Diagnostics;
using System.Globalization;
using System.Text;
using Duplex.Benchmarks.Loopback;

namespace Duplex.Benchmarks.Hops;

/// <summary>
/// The <c>hops-child</c> command: one client in a process of its own does S3's 64-byte text round
/// trips against the server at the given address, and reports per round trip what the process did to
/// carry them: wall and CPU time, work items the thread pool ran, context switches by thread, and (in
/// a second pass, slower for its stack captures) who queued the pool's work items. Prints Markdown.
/// </summary>
internal static class HopsProbe
{
    private const int WarmUpBlock = 10_000;

    /// <summary>Warm-up ends when a block of round trips compiled no method, or after this many blocks.</summary>
    private const int MaxWarmUpBlocks = 20;

    public static async Task<int> RunChildAsync(IReadOnlyList<string> args)
    {
        if (args.Count != 3)
        {
            throw new ArgumentException("usage: hops-child <client> <echo url> <round trips>");
        }

        ClientKind kind = ClientCatalog.Parse(args[0]);
        var uri = new Uri(args[1]);
        int roundTrips = int.Parse(args[2], CultureInfo.InvariantCulture);
        string text = new('x', 64);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        CancellationToken token = timeout.Token;

        await using ILoopbackClient client = ClientCatalog.Create(kind);
        await client.ConnectAsync(uri, token);
        int warmUp = await WarmUpAsync(client, text, token);

        ThreadActivity threadsBefore = ThreadActivity.Take();
        long itemsBefore = ThreadPool.CompletedWorkItemCount;
        Environment.ProcessCpuUsage cpuBefore = Environment.CpuUsage;
        long started = Stopwatch.GetTimestamp();
        await RoundTripsAsync(client, text, roundTrips, token);
        TimeSpan wall = Stopwatch.GetElapsedTime(started);
        Environment.ProcessCpuUsage cpuAfter = Environment.CpuUsage;
        TimeSpan cpu = cpuAfter.TotalTime - cpuBefore.TotalTime;
        TimeSpan kernel = cpuAfter.PrivilegedTime - cpuBefore.PrivilegedTime;
        long items = ThreadPool.CompletedWorkItemCount - itemsBefore;
        IReadOnlyList<ThreadActivity.Activity> threads = ThreadActivity.Take().Since(threadsBefore);

        using var origins = new WorkItemOrigins();
        origins.Start();
        await RoundTripsAsync(client, text, roundTrips, token);
        origins.Stop();

        await client.CloseAsync(token);

        var md = new StringBuilder();
        CultureInfo c = CultureInfo.InvariantCulture;
        md.AppendLine(c, $"#### {ClientCatalog.Name(kind)}");
        md.AppendLine();
        md.AppendLine(c, $"- Warm-up: {warmUp:N0} round trips, until a block of {WarmUpBlock:N0} compiled no method (tiered compilation keeps a thread busy long after start-up, and its CPU time counts)");
        md.AppendLine(c, $"- {roundTrips:N0} round trips: wall {wall.TotalMicroseconds / roundTrips:0.0} µs, CPU {cpu.TotalMicroseconds / roundTrips:0.0} µs (user {(cpu - kernel).TotalMicroseconds / roundTrips:0.0}, kernel {kernel.TotalMicroseconds / roundTrips:0.0}), thread-pool work items {items / (double)roundTrips:0.00} per round trip");
        md.AppendLine("- Threads that ran (per round trip; voluntary switches are waits that were woken, involuntary ones preemptions):");
        md.AppendLine();
        md.AppendLine("| threads | count | voluntary | involuntary | CPU µs |");
        md.AppendLine("|---|---:|---:|---:|---:|");
        double microsPerTick = 1_000_000.0 / 100;
        foreach (ThreadActivity.Activity activity in threads)
        {
            md.AppendLine(c, $"| {activity.Name} | {activity.Threads} | {activity.Voluntary / (double)roundTrips:0.00} | {activity.Involuntary / (double)roundTrips:0.00} | {activity.Ticks * microsPerTick / roundTrips:0.0} |");
        }

        md.AppendLine();
        md.AppendLine("- Work items queued to the thread pool, by who queued them (a second pass, slowed by a stack capture per item):");
        md.AppendLine();
        foreach ((string origin, int count) in origins.Origins.OrderByDescending(o => o.Value).Take(6))
        {
            md.AppendLine(c, $"  - `{origin}`: {count / (double)roundTrips:0.000} per round trip");
        }

        Console.Out.Write(md.ToString());
        return 0;
    }

    /// <summary>Round trips in blocks until the JIT has nothing left to compile for them; returns how many ran.</summary>
    private static async Task<int> WarmUpAsync(ILoopbackClient client, string text, CancellationToken token)
    {
        int blocks = 0;
        long compiled;
        do
        {
            compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            await RoundTripsAsync(client, text, WarmUpBlock, token);
            blocks++;
        }
        while (blocks < MaxWarmUpBlocks && System.Runtime.JitInfo.GetCompiledMethodCount() != compiled);

        return blocks * WarmUpBlock;
    }

    private static async Task RoundTripsAsync(ILoopbackClient client, string text, int count, CancellationToken token)
    {
        for (int i = 0; i < count; i++)
        {
            int length = await client.EchoTextAsync(text, token);
            if (length != text.Length)
            {
                throw new InvalidOperationException($"An echo came back with {length} characters, expected {text.Length}.");
            }
        }
    }
}
