using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using Duplex.Benchmarks.Shared;

namespace Duplex.Benchmarks.Server;

/// <summary>
/// Runs <see cref="BenchServer"/> in a child process of this same program (<c>server</c> command),
/// so the client process's allocation counters, working set and file descriptors hold the client
/// alone. The child stops when its standard input closes, so it never outlives the benchmark.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const string ReadyPrefix = "listening ";
    private const string CertificatePrefix = "certificate ";
    private readonly Process _process;

    private ServerProcess(Process process, Uri baseUri, X509Certificate2? certificate)
    {
        _process = process;
        BaseUri = baseUri;
        Certificate = certificate;
    }

    public Uri BaseUri { get; }

    /// <summary>With TLS, the server's self-signed certificate (public part), for the clients to trust.</summary>
    public X509Certificate2? Certificate { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts the child (serving <c>wss://</c> with <paramref name="tls"/>) and waits (bounded) for its address.</summary>
    public static async Task<ServerProcess> StartAsync(TimeSpan timeout, bool tls = false)
    {
        ProcessStartInfo start = tls ? SelfStartInfo("server", "--tls") : SelfStartInfo("server");
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        var process = Process.Start(start) ?? throw new InvalidOperationException("The server process did not start.");
        using var deadline = new CancellationTokenSource(timeout);
        X509Certificate2? certificate = null;
        try
        {
            while (true)
            {
                string? line = await process.StandardOutput.ReadLineAsync(deadline.Token).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("The server process exited before it listened.");
                if (line.StartsWith(CertificatePrefix, StringComparison.Ordinal))
                {
                    certificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(line.Substring(CertificatePrefix.Length).Trim()));
                }
                else if (line.StartsWith(ReadyPrefix, StringComparison.Ordinal))
                {
                    return new ServerProcess(process, new Uri(line.Substring(ReadyPrefix.Length).Trim()), certificate);
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

    /// <summary>The <c>server</c> command (<c>--tls</c>: over TLS with a fresh certificate): serve until standard input closes.</summary>
    public static async Task<int> RunChildAsync(IReadOnlyList<string> args)
    {
        using X509Certificate2? certificate = args.Contains("--tls") ? LoopbackServerCertificate.Create() : null;
        await using BenchServer server = await BenchServer.StartAsync(certificate).ConfigureAwait(false);
        if (certificate is not null)
        {
            Console.Out.WriteLine(CertificatePrefix + Convert.ToBase64String(certificate.RawData));
        }

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
            Certificate?.Dispose();
        }
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"server pid {_process.Id} at {BaseUri}");
}
