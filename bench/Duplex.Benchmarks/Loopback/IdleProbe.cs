using System.Diagnostics;
using System.Globalization;
using Duplex.Benchmarks.Server;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// S5: the memory an idle connection costs. Each measurement runs in a fresh child process
/// (<c>idle</c> command) that holds only one client library's connections, so one library's freed
/// but still committed memory never flatters the next one's working set.
/// </summary>
internal static class IdleProbe
{
    private const string ResultPrefix = "idle-result ";
    private const int ConnectConcurrency = 32;

    /// <summary>Per-connection cost measured by one child process.</summary>
    internal readonly record struct Result(double HeapBytesPerConnection, double WorkingSetBytesPerConnection, double ConnectSeconds);

    /// <summary>Runs one child for <paramref name="kind"/> and returns what it measured.</summary>
    public static async Task<Result> MeasureAsync(ClientKind kind, Uri idleUri, int count, TimeSpan timeout)
    {
        ProcessStartInfo start = ServerProcess.SelfStartInfo(
            "idle", "--client", ClientCatalog.Id(kind), "--url", idleUri.ToString(), "--count", count.ToString(CultureInfo.InvariantCulture));
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using Process process = Process.Start(start) ?? throw new InvalidOperationException("The idle probe did not start.");
        using var deadline = new CancellationTokenSource(timeout);
        Task<string> stderr = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            string output = await process.StandardOutput.ReadToEndAsync(deadline.Token);
            await process.WaitForExitAsync(deadline.Token);
            string? line = output.Split('\n').LastOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
            if (process.ExitCode != 0 || line is null)
            {
                throw new InvalidOperationException($"The idle probe for {ClientCatalog.Name(kind)} failed (exit {process.ExitCode}): {(await stderr).Trim()}");
            }

            double[] parts = [.. line.Substring(ResultPrefix.Length).Split(' ').Select(p => double.Parse(p, CultureInfo.InvariantCulture))];
            return new Result(parts[0], parts[1], parts[2]);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"The idle probe for {ClientCatalog.Name(kind)} took longer than {timeout.TotalSeconds:0} s.");
        }
    }

    /// <summary>The <c>idle</c> command: open the connections, measure, print one result line.</summary>
    public static async Task<int> RunChildAsync(IReadOnlyList<string> args)
    {
        ClientKind kind = ClientCatalog.Parse(Value(args, "--client"));
        var uri = new Uri(Value(args, "--url"));
        int count = int.Parse(Value(args, "--count"), CultureInfo.InvariantCulture);
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(5));

        // One connection first, so code, statics and shared handlers are in the baseline.
        ILoopbackClient warm = ClientCatalog.Create(kind);
        await warm.ConnectAsync(uri, deadline.Token);
        await warm.CloseAsync(deadline.Token);
        await warm.DisposeAsync();
        await Task.Delay(500, deadline.Token);

        (long heap0, long rss0) = Snapshot();
        var clients = new ILoopbackClient[count];
        long started = Stopwatch.GetTimestamp();
        using (var gate = new SemaphoreSlim(ConnectConcurrency))
        {
            var connects = new Task[count];
            for (int i = 0; i < count; i++)
            {
                await gate.WaitAsync(deadline.Token);
                ILoopbackClient client = clients[i] = ClientCatalog.Create(kind);
                connects[i] = ConnectAsync(client, uri, gate, deadline.Token);
            }

            await Task.WhenAll(connects);
        }

        double connectSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;

        // Let every receive loop reach its idle wait before measuring.
        await Task.Delay(1000, deadline.Token);
        (long heap1, long rss1) = Snapshot();
        GC.KeepAlive(clients);
        Console.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{ResultPrefix}{(heap1 - heap0) / (double)count:0.0} {(rss1 - rss0) / (double)count:0.0} {connectSeconds:0.000}"));
        Console.Out.Flush();

        // --hold keeps the connections open a while, e.g. for dotnet-gcdump or dotnet-counters.
        if (Array.IndexOf([.. args], "--hold") >= 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(int.Parse(Value(args, "--hold"), CultureInfo.InvariantCulture)), CancellationToken.None);
        }

        // The process exit closes every socket; the server sees the end of each connection.
        return 0;
    }

    private static async Task ConnectAsync(ILoopbackClient client, Uri uri, SemaphoreSlim gate, CancellationToken cancellationToken)
    {
        try
        {
            await client.ConnectAsync(uri, cancellationToken);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Managed heap and working set after a full, compacting, blocking collection.</summary>
    private static (long Heap, long WorkingSet) Snapshot()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        long heap = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return (heap, process.WorkingSet64);
    }

    private static string Value(IReadOnlyList<string> args, string name)
    {
        for (int i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == name)
            {
                return args[i + 1];
            }
        }

        throw new ArgumentException($"The idle command needs {name}.");
    }
}
