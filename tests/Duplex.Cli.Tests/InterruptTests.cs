using System.Net.WebSockets;
using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary>Ctrl+C (SIGINT) ends a command cleanly.</summary>
public sealed class InterruptTests
{
    [Fact]
    public async Task Connect_Interrupted_ClosesWith1000AndExits130()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // SIGINT is sent with kill(1), which Windows does not have.
        }

        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "--interactive");
        await connect.WaitForLineAsync("connected to ws://");
        await connect.InterruptAsync();

        Assert.Equal(130, await connect.WaitForExitAsync());
        Assert.Equal(WebSocketCloseStatus.NormalClosure, (await server.CloseAsync()).Status);
    }

    [Fact]
    public async Task Serve_Interrupted_StopsAndExitsZero()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // SIGINT is sent with kill(1), which Windows does not have.
        }

        await using ServeProcess serve = await ServeProcess.StartAsync();
        await serve.Process.InterruptAsync();

        Assert.Equal(0, await serve.Process.WaitForExitAsync());
        Assert.Contains("stopping", serve.Process.Output, StringComparison.Ordinal);
    }
}
