using System.Net.WebSockets;
using System.Text.Json;
using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary><c>duplex connect</c> as a process against an in-process Kestrel server that records what it receives.</summary>
public sealed class ConnectCommandTests
{
    [Fact]
    public async Task Connect_PipedLines_SendsHeadersAndEveryLineAndPrintsTheEchoes()
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "-H", "X-Tenant: acme", "-H", "Authorization: Bearer secret-xyz", "--subprotocol", "chat.v1", "--count", "2");
        await connect.WriteLinesAsync("hello", "world");
        connect.CloseInput();

        Assert.Equal(0, await connect.WaitForExitAsync());
        IReadOnlyDictionary<string, string> headers = Assert.Single(server.Handshakes);
        Assert.Equal("acme", headers["X-Tenant"]);
        Assert.Equal("Bearer secret-xyz", headers["Authorization"]);
        Assert.Equal("hello", (await server.NextMessageAsync()).Text);
        Assert.Equal("world", (await server.NextMessageAsync()).Text);
        Assert.Matches(@"(?m)^\d\d:\d\d:\d\d\.\d{3} > hello$", connect.Output);
        Assert.Matches(@"(?m)^\d\d:\d\d:\d\d\.\d{3} < hello$", connect.Output);
        Assert.Matches(@"(?m)^\d\d:\d\d:\d\d\.\d{3} < world$", connect.Output);
        Assert.Contains("subprotocol chat.v1", connect.AllText, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-xyz", connect.AllText, StringComparison.Ordinal);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, (await server.CloseAsync()).Status);
    }

    [Fact]
    public async Task Connect_JsonRpc_WrapsEachLineAsARequestWithIncreasingIds()
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "--jsonrpc", "--count", "2");
        await connect.WriteLinesAsync("sum [1, 2]", "status");
        connect.CloseInput();

        Assert.Equal(0, await connect.WaitForExitAsync());
        using JsonDocument first = JsonDocument.Parse((await server.NextMessageAsync()).Text);
        using JsonDocument second = JsonDocument.Parse((await server.NextMessageAsync()).Text);
        Assert.Equal("2.0", first.RootElement.GetProperty("jsonrpc").GetString());
        Assert.Equal(1, first.RootElement.GetProperty("id").GetInt32());
        Assert.Equal("sum", first.RootElement.GetProperty("method").GetString());
        Assert.Equal("[1,2]", first.RootElement.GetProperty("params").GetRawText());
        Assert.Equal(2, second.RootElement.GetProperty("id").GetInt32());
        Assert.Equal("status", second.RootElement.GetProperty("method").GetString());
        Assert.False(second.RootElement.TryGetProperty("params", out _));
    }

    [Fact]
    public async Task Connect_JsonRpcLineWithBadParams_IsNotSentAndFails()
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "--jsonrpc", "--wait", "0");
        await connect.WriteLinesAsync("sum [1,", "ok");
        connect.CloseInput();

        Assert.Equal(1, await connect.WaitForExitAsync());
        Assert.Contains("not sent", connect.AllText, StringComparison.Ordinal);
        using JsonDocument sent = JsonDocument.Parse((await server.NextMessageAsync()).Text);
        Assert.Equal("ok", sent.RootElement.GetProperty("method").GetString());
        Assert.Equal(1, sent.RootElement.GetProperty("id").GetInt32());
    }

    [Theory]
    [InlineData("--binary", "01 02 ff", "[binary 3 bytes] 0102ff")]
    [InlineData("--base64", "AQL/", "[binary 3 bytes] AQL/")]
    public async Task Connect_BinaryInput_SendsTheDecodedBytes(string option, string line, string printed)
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, option, "-1");
        await connect.WriteLinesAsync(line);
        connect.CloseInput();

        Assert.Equal(0, await connect.WaitForExitAsync());
        ReceivedMessage message = await server.NextMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, message.Type);
        Assert.Equal(new byte[] { 1, 2, 255 }, message.Data);
        Assert.Contains("< " + printed, connect.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_Json_PrettyPrintsReceivedJson()
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "--json", "-1");
        await connect.WriteLinesAsync("{\"name\":\"duplex\",\"tags\":[1,2]}");
        connect.CloseInput();

        Assert.Equal(0, await connect.WaitForExitAsync());
        Assert.Contains("\n  \"name\": \"duplex\",\n", connect.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_Raw_PrintsOnlyTheReceivedMessages()
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "--raw", "--count", "2");
        await connect.WriteLinesAsync("one", "two");
        connect.CloseInput();

        Assert.Equal(0, await connect.WaitForExitAsync());
        Assert.Equal("one\ntwo\n", connect.Output);
    }

    [Fact]
    public async Task Connect_InteractiveCommands_PingSendBinaryAndCloseWithCodeAndReason()
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "--interactive");
        await connect.WaitForLineAsync("connected to ws://");

        await connect.WriteLinesAsync("/ping hello");
        await connect.WaitForLineAsync(@"pong: rtt \d+(\.\d+)? ms \(payload hello\)");
        await connect.WriteLinesAsync("/binary 0a0b");
        await connect.WaitForLineAsync(@"< \[binary 2 bytes\] 0a0b$");
        Assert.Equal(new byte[] { 10, 11 }, (await server.NextMessageAsync()).Data);
        await connect.WriteLinesAsync("//slash", "/close 4000 all done");

        Assert.Equal(0, await connect.WaitForExitAsync());
        Assert.Equal("/slash", (await server.NextMessageAsync()).Text);
        (WebSocketCloseStatus? status, string? description) = await server.CloseAsync();
        Assert.Equal((WebSocketCloseStatus)4000, status);
        Assert.Equal("all done", description);
    }

    [Fact]
    public async Task Connect_CountNotReachedWithinWait_Fails()
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "--count", "2", "--wait", "200ms");
        await connect.WriteLinesAsync("only one");

        // The input ends only once the one echo is in: --wait then runs out with 1 of 2.
        await connect.WaitForLineAsync("< only one$");
        connect.CloseInput();

        Assert.Equal(1, await connect.WaitForExitAsync());
        Assert.Contains("received 1 of 2 messages", connect.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_PingInterval_SendsKeepalivePingsAtThatInterval_AndClosesNormally()
    {
        // A bare-socket server: Kestrel answers Pings by itself and never shows them.
        await using var server = new PingRecordingServer();
        await using CliProcess connect = CliProcess.StartTool("connect", server.Url, "--ping-interval", "200ms", "--wait", "0");
        await connect.WaitForLineAsync("connected to ws://");

        // Four Pings well before the default interval (20 s) would have sent the second; each got its Pong, so the
        // connection stays up.
        TimeSpan first = await server.NextPingAsync();
        TimeSpan fourth = first;
        for (int i = 0; i < 3; i++)
        {
            fourth = await server.NextPingAsync();
        }

        Assert.InRange(fourth - first, TimeSpan.Zero, TimeSpan.FromSeconds(15));
        connect.CloseInput();
        Assert.Equal(0, await connect.WaitForExitAsync());
        Assert.DoesNotContain("connection lost", connect.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_RefusedPort_ExitsWithNetworkFailure()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        await using CliProcess connect = CliProcess.StartTool("connect", $"ws://127.0.0.1:{port}/");
        connect.CloseInput();
        Assert.Equal(4, await connect.WaitForExitAsync());
        Assert.Contains("connect failed (ConnectionRefused)", connect.AllText, StringComparison.Ordinal);
    }
}
