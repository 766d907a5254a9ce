using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary>The package is a .NET tool: <c>dotnet pack</c>, <c>dotnet tool install</c> from that folder only, then the installed <c>duplex</c> runs.</summary>
public sealed class ToolInstallTests
{
    [Fact]
    public async Task PackedTool_InstallsIntoAToolPathAndRuns()
    {
        string root = Path.Combine(Path.GetTempPath(), $"duplex-tool-{Guid.NewGuid():N}");
        string packages = Path.Combine(root, "packages");
        string tools = Path.Combine(root, "tools");
        Directory.CreateDirectory(packages);
        try
        {
            // Only the folder the package was packed into is a source, so nothing else can be installed by mistake.
            string config = Path.Combine(root, "nuget.config");
            await File.WriteAllTextAsync(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{packages}" />
                  </packageSources>
                </configuration>
                """);
            var environment = new Dictionary<string, string> { ["DOTNET_ROOT"] = CliTool.DotNetRoot };

            string project = Path.Combine(CliTool.RepositoryRoot, "src", "Duplex.Cli", "Duplex.Cli.csproj");
            await RunAsync(CliTool.DotNet, ["pack", project, "-c", CliTool.Configuration, "--no-build", "-o", packages], environment);
            Assert.Single(Directory.GetFiles(packages, "Duplex.Cli.*.nupkg"));
            await RunAsync(CliTool.DotNet, ["tool", "install", "--tool-path", tools, "--configfile", config, "Duplex.Cli"], environment);

            string duplex = Path.Combine(tools, OperatingSystem.IsWindows() ? "duplex.exe" : "duplex");
            await using (CliProcess help = CliProcess.Start(duplex, ["--help"], environment))
            {
                Assert.Equal(0, await help.WaitForExitAsync());
                Assert.Contains("Exit codes:", help.Output, StringComparison.Ordinal);
            }

            await using RecordingServer server = await RecordingServer.StartAsync();
            await using CliProcess connect = CliProcess.Start(duplex, ["connect", server.Url, "-1"], environment);
            await connect.WriteLinesAsync("from the installed tool");
            connect.CloseInput();
            Assert.True(await connect.WaitForExitAsync() == 0, connect.AllText);
            Assert.Equal("from the installed tool", (await server.NextMessageAsync()).Text);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task RunAsync(string fileName, string[] arguments, IDictionary<string, string> environment)
    {
        await using CliProcess process = CliProcess.Start(fileName, arguments, environment);
        process.CloseInput();
        int exitCode = await process.WaitForExitAsync();
        Assert.True(exitCode == 0, $"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} exited {exitCode}:\n{process.AllText}");
    }
}
