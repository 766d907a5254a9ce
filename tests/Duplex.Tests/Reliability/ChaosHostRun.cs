using System.Diagnostics;
using System.Text.Json;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Reliability;

/// <summary>
/// One run of the chaos host (tests/Duplex.Chaos) as a child process, so that its thread pool keeps the
/// default minimum this test process raises: its exit code, its output, and the JSON summary it prints last.
/// </summary>
internal sealed class ChaosHostRun
{
    private ChaosHostRun(int exitCode, string output, string errors, JsonElement summary)
    {
        ExitCode = exitCode;
        Output = output;
        Errors = errors;
        Summary = summary;
    }

    public int ExitCode { get; }

    public string Output { get; }

    public string Errors { get; }

    /// <summary>The last line of the output, parsed.</summary>
    public JsonElement Summary { get; }

    /// <summary>The summary's violations, one per line, or "none".</summary>
    public string Violations => Summary.TryGetProperty("violations", out JsonElement list) && list.GetArrayLength() > 0
        ? string.Join("\n", list.EnumerateArray().Select(v => "  - " + v.GetString()))
        : "none";

    public double Number(string name) => Summary.GetProperty(name).GetDouble();

    /// <summary>
    /// Runs the host with <paramref name="arguments"/>; kills it (and fails) when it has not exited within
    /// <paramref name="deadline"/>.
    /// </summary>
    public static async Task<ChaosHostRun> StartAsync(TimeSpan deadline, params string[] arguments)
    {
        // Built with the tests (a project reference that is not linked in), into the same configuration folder.
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        string dll = RepositoryRoot.Combine("tests", "Duplex.Chaos", "bin", configuration, "net10.0", "Duplex.Chaos.dll");
        Assert.True(File.Exists(dll), $"The chaos host was not built at {dll}.");

        var start = new ProcessStartInfo("dotnet", [dll, .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryRoot.Path,
        };

        // Nothing inherited may raise the child's thread-pool minimum: the default is the point.
        foreach (string name in start.Environment.Keys.Where(IsThreadPoolSetting).ToList())
        {
            start.Environment.Remove(name);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using CancellationTokenSource timeout = TestTimeouts.CreateSource(deadline);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TestTimeouts.Default);
            Assert.Fail($"The chaos host did not exit within {deadline} ({string.Join(' ', arguments)}):\n{await output}\n{await errors}");
        }

        string text = await output;
        string last = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        JsonElement summary;
        try
        {
            using JsonDocument document = JsonDocument.Parse(last);
            summary = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            Assert.Fail($"The chaos host's last line is not a JSON summary (exit {process.ExitCode}):\n{text}\n{await errors}");
            throw;
        }

        Assert.False(summary.TryGetProperty("error", out JsonElement error), $"The chaos host failed: {error}\n{await errors}");
        return new ChaosHostRun(process.ExitCode, text, await errors, summary);
    }

    private static bool IsThreadPoolSetting(string name) =>
        name.StartsWith("DOTNET_ThreadPool", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("COMPlus_ThreadPool", StringComparison.OrdinalIgnoreCase)
        || name.StartsWith("DOTNET_System_Threading_ThreadPool", StringComparison.OrdinalIgnoreCase);
}
