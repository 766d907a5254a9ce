using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// One interop peer server process (Python <c>websockets</c> or Node <c>ws</c>) listening on 127.0.0.1.
/// </summary>
/// <remarks>
/// <para>
/// The peer prints <c>PORT n</c> once it listens and exits when its standard input closes, so it cannot outlive the
/// test process. Its paths: <c>/echo</c>, <c>/headers</c> (JSON of the request headers, then echo),
/// <c>/close?code=4001&amp;reason=bye[&amp;after=1]</c>, <c>/ping</c> (a Ping with payload <c>hello</c>, then echo;
/// the line <c>PONG hello</c> on its standard error when the Pong arrives); any other path echoes.
/// </para>
/// <para>Safe to read from any thread. <see cref="DisposeAsync"/> ends the process tree and never throws.</para>
/// </remarks>
public sealed class PeerServer : IAsyncDisposable
{
    private const string PortPrefix = "PORT ";

    private readonly Process _process;
    private readonly StringBuilder _standardError = new();
    private readonly Lock _standardErrorLock = new();
    private Task _drainStandardOutput = Task.CompletedTask;
    private int _disposed;

    private PeerServer(PeerKind kind, Process process)
    {
        Kind = kind;
        _process = process;
    }

    /// <summary>Which peer runs.</summary>
    public PeerKind Kind { get; }

    /// <summary>The port the peer listens on.</summary>
    public int Port { get; private set; }

    /// <summary><c>ws://127.0.0.1:{port}/</c>.</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Whether the peer process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the peer wrote to its standard error so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_standardErrorLock)
            {
                return _standardError.ToString();
            }
        }
    }

    /// <summary>
    /// Starts the peer and waits (at most <see cref="TestTimeouts.PeerStartup"/>) until it reports its port.
    /// </summary>
    /// <exception cref="InvalidOperationException">The peer could not start or exited early; the message holds its standard error.</exception>
    /// <exception cref="TimeoutException">The peer did not report its port in time; the message holds its standard error.</exception>
    public static Task<PeerServer> StartAsync(PeerKind kind, CancellationToken cancellationToken = default) =>
        StartAsync(kind, [], cancellationToken);

    /// <summary>Starts the peer with command-line <paramref name="arguments"/> (<c>--deflate</c>: permessage-deflate on).</summary>
    public static async Task<PeerServer> StartAsync(PeerKind kind, IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        var startInfo = CreateStartInfo(kind);
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        var peer = new PeerServer(kind, process);
        process.ErrorDataReceived += (_, e) => peer.AppendStandardError(e.Data);
        try
        {
            if (!process.Start())
            {
                throw new InvalidOperationException($"The {kind} peer process did not start.");
            }
        }
        catch (Win32Exception exception)
        {
            process.Dispose();
            throw new InvalidOperationException(
                $"The {kind} peer could not start '{startInfo.FileName}': {exception.Message}. Run ./test.sh to install the peers.",
                exception);
        }

        process.BeginErrorReadLine();
        try
        {
            await peer.WaitForPortAsync(cancellationToken);
            return peer;
        }
        catch
        {
            await peer.DisposeAsync();
            throw;
        }
    }

    /// <summary>Builds <c>ws://127.0.0.1:{port}{pathAndQuery}</c>.</summary>
    public Uri GetUri(string pathAndQuery) => new(BaseUri, pathAndQuery);

    /// <summary>
    /// Waits until a line of the peer's standard error contains <paramref name="text"/>.
    /// </summary>
    /// <returns><see langword="true"/> when such a line arrived within the timeout, otherwise <see langword="false"/>.</returns>
    public async Task<bool> WaitForStandardErrorAsync(string text, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var source = TestTimeouts.CreateLinkedSource(timeout ?? TestTimeouts.Default, cancellationToken);
        try
        {
            while (!StandardError.Contains(text, StringComparison.Ordinal))
            {
                await Task.Delay(20, source.Token);
            }

            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>
    /// Closes the peer's standard input so it exits by itself, then kills the process tree if it is still running
    /// after a short grace period. Never throws; a second call does nothing.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The pipe is already broken because the process is gone.
            }

            if (!await WaitForExitAsync(TestTimeouts.Short))
            {
                _process.Kill(entireProcessTree: true);
                await WaitForExitAsync(TestTimeouts.Short);
            }

            await _drainStandardOutput.WaitAsync(TestTimeouts.Short);
        }
        catch (Exception exception) when (exception is InvalidOperationException or Win32Exception or TimeoutException or IOException)
        {
            // Already exited or cannot be waited for: nothing more to clean up.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private static ProcessStartInfo CreateStartInfo(PeerKind kind)
    {
        var startInfo = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot.Path,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };

        switch (kind)
        {
            case PeerKind.Python:
                startInfo.FileName = "/usr/bin/python3";
                startInfo.ArgumentList.Add("-u");
                startInfo.ArgumentList.Add(RepositoryRoot.Combine("tests", "peers", "python", "server.py"));
                startInfo.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
                break;
            case PeerKind.Node:
                var script = RepositoryRoot.Combine("tests", "peers", "node", "server.js");
                if (!Directory.Exists(RepositoryRoot.Combine("tests", "peers", "node", "node_modules", "ws")))
                {
                    throw new InvalidOperationException(
                        "The Node peer's packages are missing (tests/peers/node/node_modules); run ./test.sh or `npm ci` in tests/peers/node.");
                }

                startInfo.FileName = "node";
                startInfo.ArgumentList.Add(script);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown peer.");
        }

        return startInfo;
    }

    private async Task WaitForPortAsync(CancellationToken cancellationToken)
    {
        using var source = TestTimeouts.CreateLinkedSource(TestTimeouts.PeerStartup, cancellationToken);
        try
        {
            while (true)
            {
                var line = await _process.StandardOutput.ReadLineAsync(source.Token);
                if (line is null)
                {
                    await WaitForExitAsync(TestTimeouts.Short);
                    var exitCode = _process.HasExited ? _process.ExitCode.ToString(CultureInfo.InvariantCulture) : "unknown";
                    throw new InvalidOperationException(
                        $"The {Kind} peer exited (code {exitCode}) before reporting its port. Its standard error:\n{StandardError}");
                }

                if (line.StartsWith(PortPrefix, StringComparison.Ordinal)
                    && int.TryParse(line.AsSpan(PortPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                {
                    Port = port;
                    BaseUri = new Uri($"ws://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
                    _drainStandardOutput = DrainStandardOutputAsync();
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"The {Kind} peer did not report its port within {TestTimeouts.PeerStartup}. Its standard error:\n{StandardError}");
        }
    }

    private async Task DrainStandardOutputAsync()
    {
        try
        {
            // The peers print nothing after the port line, but a full pipe would block them if they did.
            while (await _process.StandardOutput.ReadLineAsync() is not null)
            {
            }
        }
        catch (Exception exception) when (exception is IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The process is gone.
        }
    }

    private async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var source = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(source.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void AppendStandardError(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_standardErrorLock)
        {
            _standardError.AppendLine(line);
        }
    }
}
