using System.Diagnostics;
using System.Globalization;
using Duplex.Benchmarks.Loopback;
using Duplex.Benchmarks.Server;

namespace Duplex.Benchmarks.Hops;

/// <summary>
/// The <c>hops</c> command: the account of an S3 round trip — what each client's process does between
/// the socket read that brings the echo and the next send. The server runs in a child process, and so
/// does each client (<see cref="HopsProbe"/>), one after the other.
/// </summary>
internal static class HopsCommand
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args)
    {
        int roundTrips = 20_000;
        IReadOnlyList<ClientKind> clients = ClientCatalog.DotNet;
        bool rawFloor = true;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--round-trips" when i + 1 < args.Count:
                    roundTrips = int.Parse(args[++i], CultureInfo.InvariantCulture);
                    break;
                case "--clients" when i + 1 < args.Count:
                    clients = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ClientCatalog.Parse)];
                    break;
                case "--no-raw":
                    rawFloor = false;
                    break;
                default:
                    throw new ArgumentException($"Unknown hops option '{args[i]}'. Options: --round-trips N, --no-raw (leave out the raw socket floor), --clients {string.Join(",", ClientCatalog.DotNet.Select(ClientCatalog.Id))}.");
            }
        }

        await using ServerProcess server = await ServerProcess.StartAsync(TimeSpan.FromSeconds(30));
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"### Round-trip account (S3, 64-byte texts, {roundTrips:N0} round trips after a warm-up; {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC; load average {MachineInfo.LoadAverage()})"));
        Console.Out.WriteLine();
        int failures = 0;
        string echo = new Uri(server.BaseUri, "/echo").ToString();
        string count = roundTrips.ToString(CultureInfo.InvariantCulture);
        IEnumerable<(string Name, string[] Arguments)> probes = clients
            .Select(kind => (ClientCatalog.Name(kind), new[] { "hops-child", ClientCatalog.Id(kind), echo, count }))
            .Concat(rawFloor
                ? [("Raw socket (async)", ["hops-raw", "async", echo, count]), ("Raw socket (blocking thread)", new[] { "hops-raw", "blocking", echo, count })]
                : []);
        foreach ((string name, string[] arguments) in probes)
        {
            ProcessStartInfo start = ServerProcess.SelfStartInfo(arguments);
            start.RedirectStandardOutput = true;
            using Process child = Process.Start(start) ?? throw new InvalidOperationException("The client process did not start.");
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(4));
            try
            {
                string output = await child.StandardOutput.ReadToEndAsync(deadline.Token);
                await child.WaitForExitAsync(deadline.Token);
                Console.Out.WriteLine(output);
                if (child.ExitCode != 0)
                {
                    failures++;
                    Console.Out.WriteLine($"{name}: the client process failed (exit code {child.ExitCode}).");
                }
            }
            catch (OperationCanceledException)
            {
                child.Kill(entireProcessTree: true);
                failures++;
                Console.Out.WriteLine($"{name}: the client process did not finish within 4 minutes.");
            }
        }

        failures += await RunNodeReferenceAsync(new Uri(server.BaseUri, "/echo"), roundTrips);
        return failures == 0 ? 0 : 1;
    }

    /// <summary>
    /// Node's <c>ws</c> client as a reference (<c>bench/node/roundtrip.js</c>, with the <c>ws</c> package
    /// of the interop peers), when Node and the package are there; returns the failures (0 or 1).
    /// </summary>
    private static async Task<int> RunNodeReferenceAsync(Uri echo, int roundTrips)
    {
        string? root = RepositoryRoot();
        string? script = root is null ? null : Path.Combine(root, "bench", "node", "roundtrip.js");
        string? ws = root is null ? null : Path.Combine(root, "tests", "peers", "node", "node_modules", "ws");
        if (script is null || ws is null || !File.Exists(script) || !Directory.Exists(ws))
        {
            Console.Out.WriteLine("Node ws (reference): not run (bench/node/roundtrip.js or tests/peers/node/node_modules/ws is missing; `npm ci` in tests/peers/node installs it).");
            return 0;
        }

        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in new[] { script, ws, echo.ToString(), roundTrips.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            using Process node = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
            using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            string output = await node.StandardOutput.ReadToEndAsync(deadline.Token);
            await node.WaitForExitAsync(deadline.Token);
            Console.Out.WriteLine(output);
            return node.ExitCode == 0 ? 0 : 1;
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or OperationCanceledException or InvalidOperationException)
        {
            Console.Out.WriteLine($"Node ws (reference): failed ({ex.Message}).");
            return 1;
        }
    }

    /// <summary>The folder holding Duplex.slnx, above the benchmark's build output; null when not found.</summary>
    private static string? RepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Duplex.slnx")))
            {
                return directory.FullName;
            }
        }

        return null;
    }
}
