using BenchmarkDotNet.Running;
using Duplex.Benchmarks.Hops;
using Duplex.Benchmarks.Loopback;
using Duplex.Benchmarks.Server;

namespace Duplex.Benchmarks;

/// <summary>
/// Entry point. <c>micro [BenchmarkDotNet args]</c> runs the micro benchmarks (in process unless a
/// toolchain is chosen), <c>loopback [--short] [--reps N]</c> the client comparison; <c>server</c>,
/// <c>idle</c> and <c>client</c> are the child processes the comparison starts; <c>hops</c> accounts
/// for an S3 round trip client by client (<c>hops-child</c> being each client's process).
/// </summary>
internal static class Program
{
    private const string Usage = "usage: Duplex.Benchmarks micro [BenchmarkDotNet args] | loopback [--short] [--reps N] [--out FILE] [--scenarios S1,..] [--clients ..] [--process-per-client | --in-process] [--tls] [--in-process-server] [--alloc-types] | hops [--round-trips N] [--clients ..] [--no-raw] | compression [--messages N] [--size BYTES] [--reps N]";

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }

        string[] rest = args[1..];
        try
        {
            switch (args[0])
            {
                case "micro":
                    BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(MicroArguments(rest));
                    return 0;
                case "loopback":
                    return await LoopbackRunner.RunAsync(rest);
                case "server":
                    return await ServerProcess.RunChildAsync(rest);
                case "idle":
                    return await IdleProbe.RunChildAsync(rest);
                case "hops":
                    return await HopsCommand.RunAsync(rest);
                case "hops-child":
                    return await HopsProbe.RunChildAsync(rest);
                case "hops-raw":
                    return RawSocketProbe.RunChild(rest);
                case "client":
                    return await ClientProcess.RunChildAsync(rest);
                case "compression":
                    return await Compression.CompressionBench.RunAsync(rest);
                case "compression-server":
                    return await Compression.CompressionServer.RunChildAsync();
                default:
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
    }

    /// <summary>
    /// Runs in process by default: BenchmarkDotNet's generated project would inherit the
    /// repository's warnings-as-errors build and take a rebuild per run.
    /// </summary>
    private static string[] MicroArguments(string[] args)
    {
        bool chosen = args.Any(a => a is "--inProcess" or "-i" or "--runtimes" or "-r" or "--toolchain" or "--list" or "--help");
        return chosen ? args : [.. args, "--inProcess"];
    }
}
