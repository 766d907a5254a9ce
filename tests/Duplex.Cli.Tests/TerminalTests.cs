using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary>
/// <c>duplex connect</c> on a pseudo-terminal (util-linux <c>script</c>): typed lines are read from the
/// terminal, and the output is styled unless <c>NO_COLOR</c> is set.
/// </summary>
public sealed class TerminalTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Connect_OnATerminal_IsInteractiveAndStyledUnlessNoColor(bool noColor)
    {
        if (OperatingSystem.IsWindows() || !File.Exists("/usr/bin/script"))
        {
            return; // needs util-linux script(1) for the pseudo-terminal
        }

        await using RecordingServer server = await RecordingServer.StartAsync();
        string command = $"'{CliTool.DotNet}' '{CliTool.AssemblyPath}' connect {server.Url}";
        var environment = new Dictionary<string, string> { ["TERM"] = "xterm-256color" };
        if (noColor)
        {
            environment["NO_COLOR"] = "1";
        }

        await using CliProcess terminal = CliProcess.Start("/usr/bin/script", ["-qefc", command, "/dev/null"], environment);
        await terminal.WaitForLineAsync("connected.* to ws://");
        await terminal.WriteLinesAsync("typed on a terminal");
        Assert.Equal("typed on a terminal", (await server.NextMessageAsync()).Text);
        await terminal.WaitForLineAsync("<.* typed on a terminal");
        await terminal.WriteLinesAsync("/quit");

        Assert.Equal(0, await terminal.WaitForExitAsync());
        bool coloured = terminal.Output.Contains("\u001b[38;5;", StringComparison.Ordinal);
        Assert.True(coloured != noColor, terminal.Output);
    }
}
