using System.Diagnostics;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Samples;

/// <summary>The samples run end to end against their embedded server.</summary>
public sealed class SamplesTests
{
    [Fact]
    public async Task Samples_RunAll_EverySampleCompletes()
    {
        // The samples project is built with the tests (a project reference that is not linked in),
        // into the same configuration folder as this assembly.
        string configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        string dll = RepositoryRoot.Combine("samples", "Duplex.Samples", "bin", configuration, "net10.0", "Duplex.Samples.dll");
        Assert.True(File.Exists(dll), $"The samples were not built at {dll}.");

        var start = new ProcessStartInfo("dotnet", [dll])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryRoot.Path,
        };
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        using CancellationTokenSource timeout = TestTimeouts.CreateSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        string text = await output;
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{text}\n{await errors}");
        Assert.Contains("all samples done", text, StringComparison.Ordinal);
        Assert.Contains("binary echo: 100000 bytes, intact: True", text, StringComparison.Ordinal);
        Assert.Contains("authenticated 2 times", text, StringComparison.Ordinal);
        Assert.Contains("hello sample-client over HTTP/2", text, StringComparison.Ordinal);
        Assert.Contains("without the CA: Tls error, as expected", text, StringComparison.Ordinal);

        // The sample logs its bearer tokens' headers nowhere.
        Assert.DoesNotContain("never-logged", text, StringComparison.Ordinal);
    }
}
