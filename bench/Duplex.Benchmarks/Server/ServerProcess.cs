using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Duplex.Benchmarks.Server;

/// <summary>
/// Runs <see cref="BenchServer"/> in a child process of this same program (<c>server</c> command),
/// so the client process's allocation counters, working set and file descriptors hold the client
/// alone. The child stops when its standard input closes, so it never outlives the benchmark.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const string ReadyPrefix = "listening ";
    private readonly Process _process;

    private ServerProcess(Process process, Uri baseUri)
    {
        _process = process;
        BaseUri = baseUri;
    }

    public Uri BaseUri { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts the child and waits (bounded) for its address.</summary>
    public static async Task<ServerProcess> StartAsync(TimeSpan timeout)
    {
        ProcessStartInfo start = SelfStartInfo("server");
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("The server process did not start.");
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                string? line = await process.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("The server process exited before it listened.");
                if (line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
                {
                    return new ServerProcess(process, new Uri(line.Substring(ReadyPrefix.Length).Trim()));
                }
            }
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>The <c>server</c> command: serve until standard input closes.</summary>
    public static async Task<int> RunChildAsync()
    {
        await using BenchServer server = await BenchServer.StartAsync().ConfigureAwait(false);
        Console.Out.WriteLine(ReadyPrefix + server.BaseUri.ToString().TrimEnd('/'));
        Console.Out.Flush();
        await Console.In.ReadToEndAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>A start info that runs this program again with <paramref name="arguments"/>.</summary>
    public static ProcessStartInfo SelfStartInfo(params string[] arguments)
    {
        string host = Environment.ProcessPath ?? "dotnet";
        var start = new ProcessStartInfo { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            start.FileName = host;
            start.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }
        else
        {
            start.FileName = host;
        }

        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
        finally
        {
            _process.Dispose();
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"server pid {_process.Id} at {BaseUri}");
}
