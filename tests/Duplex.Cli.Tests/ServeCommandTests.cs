using System.Text.Json;
using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary><c>duplex serve</c> as a process, with <c>duplex connect</c> as a process against it.</summary>
public sealed class ServeCommandTests
{
    [Fact]
    public async Task Serve_Echo_ConnectSendsAndReceives()
    {
        await using ServeProcess serve = await ServeProcess.StartAsync();
        Assert.Matches(@"^ws://127\.0\.0\.1:\d+/$", serve.Url);
        await using CliProcess connect = CliProcess.StartTool("connect", serve.Url + "chat", "-1");
        await connect.WriteLinesAsync("ping?");
        connect.CloseInput();

        Assert.Equal(0, await connect.WaitForExitAsync());
        Assert.Matches(@"(?m)< ping\?$", connect.Output);
        await serve.Process.WaitForLineAsync(@"connection 1 opened: /chat");
        await serve.Process.WaitForLineAsync(@"connection 1 closed by the client: 1000");
    }

    [Fact]
    public async Task Serve_Headers_RepliesWithTheHandshakeHeadersSecretsMasked()
    {
        await using ServeProcess serve = await ServeProcess.StartAsync("--headers");
        await using CliProcess connect = CliProcess.StartTool("connect", serve.Url, "-H", "X-Tenant: tenant-7", "-H", "Authorization: Bearer s3cr3t-value", "--raw", "-1");
        connect.CloseInput();

        Assert.Equal(0, await connect.WaitForExitAsync());
        using JsonDocument reply = JsonDocument.Parse(connect.Output);
        JsonElement headers = reply.RootElement.GetProperty("headers");
        Assert.Equal("headers", reply.RootElement.GetProperty("type").GetString());
        Assert.Equal("tenant-7", headers.GetProperty("X-Tenant").GetString());
        Assert.Equal("[redacted, 19 chars]", headers.GetProperty("Authorization").GetString());
        Assert.DoesNotContain("s3cr3t", connect.AllText, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", serve.Process.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_Push_SendsNMessagesOnConnect()
    {
        await using ServeProcess serve = await ServeProcess.StartAsync("--push", "3");
        await using CliProcess connect = CliProcess.StartTool("connect", serve.Url, "--raw", "--count", "3");
        connect.CloseInput();

        Assert.Equal(0, await connect.WaitForExitAsync());
        Assert.Equal(
            "{\"type\":\"push\",\"seq\":1,\"of\":3}\n{\"type\":\"push\",\"seq\":2,\"of\":3}\n{\"type\":\"push\",\"seq\":3,\"of\":3}\n",
            connect.Output);
    }

    [Theory]
    [InlineData("403", "HTTP 403 Forbidden")]
    [InlineData("503", "HTTP 503 Service Unavailable")]
    public async Task Serve_Reject_ConnectExitsWithHandshakeRejectedAndExplains(string status, string summary)
    {
        await using ServeProcess serve = await ServeProcess.StartAsync("--reject", status);
        await using CliProcess connect = CliProcess.StartTool("connect", serve.Url);
        connect.CloseInput();

        Assert.Equal(3, await connect.WaitForExitAsync());
        Assert.Contains("handshake rejected: " + summary, connect.AllText, StringComparison.Ordinal);
        Assert.Contains("X-Duplex-Reject: " + status, connect.AllText, StringComparison.Ordinal);
        Assert.Contains("body: rejected by duplex serve with status " + status, connect.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_DropEvery_ConnectShowsTheLossAndReconnects()
    {
        await using ServeProcess serve = await ServeProcess.StartAsync("--drop-every", "500ms");
        await using CliProcess connect = CliProcess.StartTool("connect", serve.Url, "--interactive");
        await connect.WaitForLineAsync(@"connection lost: .*; reconnecting in \d+(\.\d+)? m?s$");
        await connect.WaitForLineAsync(@"reconnected \(attempt 1, HTTP/1\.1 101\)");
        await serve.Process.WaitForLineAsync(@"connection 1 dropped after 500 ms \(--drop-every\)");
        await connect.WriteLinesAsync("/quit");

        Assert.Equal(0, await connect.WaitForExitAsync());
    }

    [Fact]
    public async Task Serve_DropEvery_ConnectWithoutReconnectExitsWithConnectionLost()
    {
        await using ServeProcess serve = await ServeProcess.StartAsync("--drop-every", "300ms");
        await using CliProcess connect = CliProcess.StartTool("connect", serve.Url, "--interactive", "--no-reconnect");

        Assert.Equal(6, await connect.WaitForExitAsync());
        Assert.Contains("connection ended: ", connect.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_Tls_UntrustedFailsWithTlsExitCode_CaOrInsecureConnects()
    {
        string certificate = Path.Combine(Path.GetTempPath(), $"duplex-serve-{Guid.NewGuid():N}.pem");
        try
        {
            await using ServeProcess serve = await ServeProcess.StartAsync("--tls", "--export-cert", certificate);
            Assert.StartsWith("wss://localhost:", serve.Url, StringComparison.Ordinal);
            await serve.Process.WaitForLineAsync("^certificate written to ");

            await using (CliProcess untrusted = CliProcess.StartTool("connect", serve.Url))
            {
                untrusted.CloseInput();
                Assert.Equal(5, await untrusted.WaitForExitAsync());
                Assert.Contains("TLS failure (UntrustedRoot)", untrusted.AllText, StringComparison.Ordinal);
            }

            foreach (string[] trust in new[] { new[] { "--ca", certificate }, new[] { "--insecure" } })
            {
                await using CliProcess connect = CliProcess.StartTool(["connect", serve.Url, .. trust, "-1"]);
                await connect.WriteLinesAsync("secure hello");
                connect.CloseInput();
                Assert.True(await connect.WaitForExitAsync() == 0, connect.AllText);
                Assert.Contains("< secure hello", connect.Output, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(certificate);
        }
    }

    [Fact]
    public async Task Connect_ThroughAnHttpProxy_TunnelsToTheServer()
    {
        await using ServeProcess serve = await ServeProcess.StartAsync("--tls");
        await using var proxy = new ConnectProxy();
        await using CliProcess connect = CliProcess.StartTool("connect", serve.Url, "--insecure", "--proxy", proxy.Url, "-1");
        await connect.WriteLinesAsync("via the proxy");
        connect.CloseInput();

        Assert.True(await connect.WaitForExitAsync() == 0, connect.AllText);
        Assert.Contains("< via the proxy", connect.Output, StringComparison.Ordinal);
        Assert.Equal($"localhost:{new Uri(serve.Url).Port}", Assert.Single(proxy.Targets));
    }
}
