using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary>Help, usage errors and their exit code 2.</summary>
public sealed class UsageTests
{
    [Fact]
    public async Task Help_ListsTheCommandsAndTheExitCodes()
    {
        await using CliProcess help = CliProcess.StartTool("--help");
        Assert.Equal(0, await help.WaitForExitAsync());
        string text = help.Output;
        foreach (string command in new[] { "demo", "connect", "serve", "bench" })
        {
            Assert.Matches($@"(?m)^\s+{command}\b", text);
        }

        Assert.Contains("2 usage error, 3 handshake rejected, 4 network failure, 5 TLS failure", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectHelp_ListsItsOptionsAndTheExitCodes()
    {
        await using CliProcess help = CliProcess.StartTool("connect", "--help");
        Assert.Equal(0, await help.WaitForExitAsync());
        foreach (string option in new[] { "--header", "--subprotocol", "--insecure", "--ca", "--cert", "--key", "--proxy", "--ping-interval", "--no-reconnect", "--json", "--binary", "--base64", "--jsonrpc", "--wait", "--count", "-1", "--no-color" })
        {
            Assert.Contains(option, help.Output, StringComparison.Ordinal);
        }

        Assert.Contains("Exit codes:", help.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("connect", "--no-such-option", "ws://127.0.0.1:1/")]
    [InlineData("connect", "not a url")]
    [InlineData("connect", "ftp://127.0.0.1/")]
    [InlineData("connect", "ws://127.0.0.1:1/", "-H", "no colon here")]
    [InlineData("connect", "ws://127.0.0.1:1/", "--wait", "soon")]
    [InlineData("connect", "ws://127.0.0.1:1/", "--proxy", "not-a-url")]
    [InlineData("serve", "--port", "70000")]
    [InlineData("bench", "ws://127.0.0.1:1/", "--connections", "0")]
    [InlineData("no-such-command")]
    public async Task BadCommandLine_ExitsWithUsageError(params string[] arguments)
    {
        await using CliProcess tool = CliProcess.StartTool(arguments);
        Assert.Equal(2, await tool.WaitForExitAsync());
        Assert.Contains("duplex:", tool.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_HeaderWithLineBreak_IsRefusedByTheLibraryAsUsageError()
    {
        // The library refuses header injection before anything is sent; the tool reports it as a usage error.
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "-H", "X-Evil: a\r\nInjected: b");
        connect.CloseInput();
        Assert.Equal(2, await connect.WaitForExitAsync());
        Assert.Contains("must not contain CR, LF or NUL", connect.AllText, StringComparison.Ordinal);
        Assert.Empty(server.Handshakes);
    }
}
