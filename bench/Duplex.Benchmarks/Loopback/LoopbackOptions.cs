using System.Globalization;

namespace Duplex.Benchmarks.Loopback;

/// <summary>The <c>loopback</c> command's settings: sizes for full or <c>--short</c> mode, repetitions, filters.</summary>
internal sealed class LoopbackOptions
{
    public bool Short { get; private init; }

    public int Repetitions { get; private init; } = 3;

    /// <summary>Over <c>wss://</c>: the server has a self-signed certificate that every client trusts (S1–S4).</summary>
    public bool Tls { get; private init; }

    /// <summary>
    /// Run each client in a fresh child process of its own (one per client, scenario and repetition),
    /// as applications run; by default every client runs in this process, interleaved.
    /// </summary>
    public bool ProcessPerClient { get; private init; }

    /// <summary>Host the server in this process instead of a child process (to see how much that skews).</summary>
    public bool InProcessServer { get; private init; }

    /// <summary>Log the most allocated types of every timed loop (sampled GC events; slows the run a little).</summary>
    public bool AllocationTypes { get; private init; }

    /// <summary>Also write the Markdown report to this file.</summary>
    public string? OutputPath { get; private init; }

    public IReadOnlySet<string> Scenarios { get; private init; } = new HashSet<string>(["S1", "S2", "S3", "S4", "S5"]);

    /// <summary>
    /// The clients compared: by default the .NET ones, and with <c>--process-per-client</c> also Node's
    /// <c>ws</c> as a reference when node and the package are installed (over <c>ws://</c> only: it
    /// is not given the TLS server's certificate to trust).
    /// </summary>
    public IReadOnlyList<ClientKind> Clients { get; private init; } = ClientCatalog.DotNet;

    public int ReceiveCount => Short ? 100_000 : 1_000_000;

    public int SendCount => Short ? 100_000 : 1_000_000;

    public int RoundTrips => Short ? 2_000 : 20_000;

    public int BinaryRoundTrips => Short ? 20 : 200;

    public int IdleConnections => Short ? 1_000 : 10_000;

    public int MessageSize => 64;

    public int BinarySize => 1024 * 1024;

    /// <summary>The longest one measured run may take before it is abandoned and reported as failed.</summary>
    public TimeSpan RunTimeout => Short ? TimeSpan.FromSeconds(60) : TimeSpan.FromSeconds(180);

    public static LoopbackOptions Parse(IReadOnlyList<string> args)
    {
        bool isShort = false;
        bool inProcess = false;
        bool processPerClient = false;
        bool tls = false;
        bool allocationTypes = false;
        int reps = 3;
        string? output = null;
        HashSet<string> scenarios = ["S1", "S2", "S3", "S4", "S5"];
        List<ClientKind>? clients = null;
        for (int i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--short":
                    isShort = true;
                    break;
                case "--reps":
                    reps = int.Parse(Next(args, ref i), CultureInfo.InvariantCulture);
                    if (reps is < 1 or > 50)
                    {
                        throw new ArgumentException("--reps must be between 1 and 50.");
                    }

                    break;
                case "--in-process-server":
                    inProcess = true;
                    break;
                case "--process-per-client":
                    processPerClient = true;
                    break;
                case "--in-process":
                    // The default; given after --process-per-client (e.g. to bench/run-short.sh) it wins.
                    processPerClient = false;
                    break;
                case "--tls":
                    tls = true;
                    break;
                case "--alloc-types":
                    allocationTypes = true;
                    break;
                case "--out":
                    output = Next(args, ref i);
                    break;
                case "--scenarios":
                    scenarios = [.. Next(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToUpperInvariant())];
                    break;
                case "--clients":
                    clients = [.. Next(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ClientCatalog.Parse)];
                    break;
                default:
                    throw new ArgumentException($"Unknown loopback option '{args[i]}'. Options: --short, --reps N, --out FILE, --scenarios S1,S2,…, --clients {string.Join(',', ClientCatalog.All.Select(ClientCatalog.Id))}, --process-per-client, --in-process, --tls, --in-process-server, --alloc-types.");
            }
        }

        clients ??= processPerClient && !tls && ClientCatalog.NodeClientScript is not null ? [.. ClientCatalog.All] : [.. ClientCatalog.DotNet];
        if (!processPerClient && clients.Contains(ClientKind.NodeWs))
        {
            throw new ArgumentException($"{ClientCatalog.Name(ClientKind.NodeWs)} runs only with --process-per-client.");
        }

        if (allocationTypes && processPerClient)
        {
            throw new ArgumentException("--alloc-types samples this process's allocations, so it cannot be combined with --process-per-client.");
        }

        return new LoopbackOptions
        {
            Short = isShort,
            Repetitions = reps,
            InProcessServer = inProcess,
            ProcessPerClient = processPerClient,
            Tls = tls,
            AllocationTypes = allocationTypes,
            OutputPath = output,
            Scenarios = scenarios,
            Clients = clients,
        };
    }

    private static string Next(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value.");
}
