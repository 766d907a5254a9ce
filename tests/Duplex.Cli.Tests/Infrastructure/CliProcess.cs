using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Duplex.Cli.Tests.Infrastructure;

/// <summary>
/// The tool (or any program) running as a child process with redirected input and output. Lines
/// from standard output and standard error are collected as they come; tests wait for a given line
/// (with a timeout that only bounds a hang) rather than sleeping. Disposing kills what is still running.
/// </summary>
public sealed class CliProcess : IAsyncDisposable
{
    /// <summary>The bound on every wait: long, because it only stops a hang on a loaded machine.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly object _lock = new();
    private readonly List<string> _lines = [];
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource _outputClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _errorClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private CliProcess(Process process) => _process = process;

    /// <summary>Every line so far, standard output and standard error interleaved as they arrived.</summary>
    public string AllText
    {
        get
        {
            lock (_lock)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>Standard output alone.</summary>
    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts <c>dotnet Duplex.Cli.dll</c> with these arguments.</summary>
    public static CliProcess StartTool(params string[] arguments) => Start(CliTool.DotNet, [CliTool.AssemblyPath, .. arguments]);

    /// <summary>Starts a program; output redirected, <c>NO_COLOR</c> unset so that plain output comes from the redirection alone.</summary>
    public static CliProcess Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = CliTool.RepositoryRoot,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("NO_COLOR");

        // A dotnet started from a test run must not inherit the outer build's MSBuild settings.
        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (KeyValuePair<string, string> variable in environment ?? new Dictionary<string, string>())
        {
            start.Environment[variable.Key] = variable.Value;
        }

        var process = new Process { StartInfo = start };
        var cli = new CliProcess(process);
        process.OutputDataReceived += (_, e) => cli.Received(e.Data, isOutput: true);
        process.ErrorDataReceived += (_, e) => cli.Received(e.Data, isOutput: false);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Writes lines to the process's standard input.</summary>
    public async Task WriteLinesAsync(params string[] lines)
    {
        foreach (string line in lines)
        {
            await _process.StandardInput.WriteAsync(line + "\n");
        }

        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Sends SIGINT, as Ctrl+C in a terminal does (Unix only).</summary>
    public async Task InterruptAsync()
    {
        using Process kill = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        using var timeout = new CancellationTokenSource(Timeout);
        await kill.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Closes standard input: the process sees the end of its input.</summary>
    public void CloseInput() => _process.StandardInput.Close();

    /// <summary>Waits for a line matching <paramref name="pattern"/> and returns its match.</summary>
    /// <exception cref="TimeoutException">No such line within <see cref="Timeout"/>, or the process ended without one; the message holds the output.</exception>
    public async Task<Match> WaitForLineAsync(string pattern, int occurrences = 1)
    {
        var regex = new Regex(pattern, RegexOptions.CultureInvariant);
        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                Match[] matches = _lines.Select(l => regex.Match(l)).Where(m => m.Success).ToArray();
                if (matches.Length >= occurrences)
                {
                    return matches[occurrences - 1];
                }

                if (_outputClosed.Task.IsCompleted && _errorClosed.Task.IsCompleted)
                {
                    throw new TimeoutException($"The process ended without a line matching '{pattern}':\n{string.Join('\n', _lines)}");
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"No line matching '{pattern}' within {Timeout.TotalSeconds} s:\n{AllText}");
            }
        }
    }

    /// <summary>Waits for the process to exit (and its output to be read) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(_outputClosed.Task, _errorClosed.Task).WaitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The process did not exit within {Timeout.TotalSeconds} s:\n{AllText}");
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or never started.
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void Received(string? line, bool isOutput)
    {
        lock (_lock)
        {
            if (line is null)
            {
                (isOutput ? _outputClosed : _errorClosed).TrySetResult();
            }
            else
            {
                _lines.Add(line);
                if (isOutput)
                {
                    _output.Append(line).Append('\n');
                }
            }

            TaskCompletionSource changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            changed.TrySetResult();
        }
    }
}
