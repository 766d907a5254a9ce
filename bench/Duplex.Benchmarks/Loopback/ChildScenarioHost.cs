using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Duplex.Benchmarks.Server;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// One client library in a fresh child process of its own (<c>--process-per-client</c>), driven over
/// <see cref="ScenarioProtocol"/>: every figure it returns (CPU, allocations, context switches) is
/// that process's alone, with no other client's threads, pools or GC heap beside it — how an
/// application runs. Every wait is bounded by the caller's token; a child that does not answer in
/// time, answers nonsense or exits is killed, and the call throws, so the run is reported as failed.
/// </summary>
/// <remarks>Not thread-safe: one command at a time, as the runner drives it.</remarks>
internal sealed class ChildScenarioHost : IScenarioHost
{
    private const int StderrLines = 20;
    private readonly Process _process;
    private readonly Queue<string> _stderr = new();
    private readonly Lock _stderrLock = new();
    private bool _broken;

    private ChildScenarioHost(ClientKind kind, Process process)
    {
        Kind = kind;
        _process = process;
    }

    public ClientKind Kind { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts the child for <paramref name="kind"/> and waits (bounded by <paramref name="cancellationToken"/>) for its ready line.</summary>
    public static async Task<ChildScenarioHost> StartAsync(
        ClientKind kind, Uri baseUri, X509Certificate2? serverCertificate, int messageSize, int binarySize, CancellationToken cancellationToken)
    {
        List<string> arguments =
        [
            "client",
            "--client", ClientCatalog.Id(kind),
            "--server", baseUri.ToString(),
            "--size", messageSize.ToString(CultureInfo.InvariantCulture),
            "--binary-size", binarySize.ToString(CultureInfo.InvariantCulture),
        ];
        if (serverCertificate is not null)
        {
            arguments.AddRange(["--certificate", Convert.ToBase64String(serverCertificate.RawData)]);
        }

        ProcessStartInfo start = ClientCatalog.ProcessStartInfo(kind, arguments);
        start.RedirectStandardInput = true;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.StandardInputEncoding = new UTF8Encoding(false);
        start.StandardOutputEncoding = new UTF8Encoding(false);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"The client process for {ClientCatalog.Name(kind)} did not start.");
        var host = new ChildScenarioHost(kind, process);
        process.ErrorDataReceived += host.OnStderr;
        process.BeginErrorReadLine();
        try
        {
            string ready = await host.ReadLineAsync("start", cancellationToken);
            if (!ready.StartsWith(ScenarioProtocol.Ready + " ", StringComparison.Ordinal))
            {
                throw host.Broken($"started with '{Excerpt(ready)}' instead of its ready line");
            }

            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public async Task WarmAsync(WarmUp warmUp, CancellationToken cancellationToken) =>
        await CommandAsync(
            Invariant($"{ScenarioProtocol.Warm} {warmUp.Received} {warmUp.Sent} {warmUp.TextRoundTrips} {warmUp.BinaryRoundTrips}"),
            cancellationToken);

    public async Task<Meter.Reading> ReceiveAsync(int count, CancellationToken cancellationToken) =>
        ScenarioProtocol.ParseReading(await CommandAsync(Invariant($"{ScenarioProtocol.Receive} {count}"), cancellationToken), 1);

    public async Task<Meter.Reading> SendAsync(int count, CancellationToken cancellationToken) =>
        ScenarioProtocol.ParseReading(await CommandAsync(Invariant($"{ScenarioProtocol.Send} {count}"), cancellationToken), 1);

    public async Task OpenEchoAsync(CancellationToken cancellationToken) =>
        await CommandAsync(ScenarioProtocol.Connect, cancellationToken);

    public async Task<EchoBlock> EchoTextBlockAsync(int count, CancellationToken cancellationToken) =>
        ScenarioProtocol.ParseBlock(await CommandAsync(Invariant($"{ScenarioProtocol.TextBlock} {count}"), cancellationToken), 1);

    public async Task<EchoBlock> EchoBinaryBlockAsync(int count, CancellationToken cancellationToken) =>
        ScenarioProtocol.ParseBlock(await CommandAsync(Invariant($"{ScenarioProtocol.BinaryBlock} {count}"), cancellationToken), 1);

    public async Task CloseEchoAsync(CancellationToken cancellationToken) =>
        await CommandAsync(ScenarioProtocol.Close, cancellationToken);

    /// <summary>Asks a healthy child to quit (10 s at most), and kills it otherwise.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_broken && !_process.HasExited)
            {
                using var quit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await CommandAsync(ScenarioProtocol.Quit, quit.Token);
                    await _process.WaitForExitAsync(quit.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or TimeoutException or IOException)
                {
                    // Killed below.
                }
            }

            Kill();
        }
        finally
        {
            _process.Dispose();
        }
    }

    /// <summary>Sends one command and returns the fields of its <c>ok</c> reply.</summary>
    private async Task<string[]> CommandAsync(string command, CancellationToken cancellationToken)
    {
        if (_broken)
        {
            throw new InvalidOperationException($"The client process for {ClientCatalog.Name(Kind)} was already given up on.");
        }

        try
        {
            await _process.StandardInput.WriteLineAsync(command.AsMemory(), cancellationToken);
            await _process.StandardInput.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            throw Broken($"did not take '{command}' ({ex.Message})");
        }

        string reply = await ReadLineAsync(command, cancellationToken);
        string[] fields = reply.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length > 0 && fields[0] == ScenarioProtocol.Ok)
        {
            return fields;
        }

        if (fields.Length > 0 && fields[0] == ScenarioProtocol.Error)
        {
            // The child is alive but its client may be in any state: it is not asked anything more.
            throw Broken($"failed '{command}': {reply.Substring(ScenarioProtocol.Error.Length).Trim()}");
        }

        throw Broken($"answered '{command}' with '{Excerpt(reply)}'");
    }

    private async Task<string> ReadLineAsync(string command, CancellationToken cancellationToken)
    {
        string? line;
        try
        {
            line = await _process.StandardOutput.ReadLineAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException(Broken($"did not answer '{command}' in time").Message);
        }
        catch (IOException ex)
        {
            throw Broken($"could not be read after '{command}' ({ex.Message})");
        }

        return line ?? throw Broken($"exited during '{command}'");
    }

    /// <summary>Marks the child as given up on, kills it, and makes the exception that says why (with its last lines of standard error).</summary>
    private InvalidOperationException Broken(string what)
    {
        _broken = true;
        Kill();
        string stderr;
        lock (_stderrLock)
        {
            stderr = string.Join(" | ", _stderr);
        }

        return new InvalidOperationException(
            $"The client process for {ClientCatalog.Name(Kind)} {what}{(stderr.Length == 0 ? "." : $"; its standard error: {Excerpt(stderr)}")}");
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    private void OnStderr(object sender, DataReceivedEventArgs e)
    {
        if (string.IsNullOrWhiteSpace(e.Data))
        {
            return;
        }

        lock (_stderrLock)
        {
            _stderr.Enqueue(e.Data);
            while (_stderr.Count > StderrLines)
            {
                _stderr.Dequeue();
            }
        }
    }

    private static string Excerpt(string text) => text.Length <= 300 ? text : text[..300] + "…";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
