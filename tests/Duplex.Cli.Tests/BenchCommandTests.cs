using System.Text.Json;
using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary><c>duplex bench</c> as a process, against <c>duplex serve</c> and against the in-process server.</summary>
public sealed class BenchCommandTests
{
    [Fact]
    public async Task Bench_Json_ReportsEveryRoundTripAndOrderedPercentiles()
    {
        await using ServeProcess serve = await ServeProcess.StartAsync();
        await using CliProcess bench = CliProcess.StartTool("bench", serve.Url, "--connections", "3", "--messages", "40", "--size", "256", "--json");

        Assert.Equal(0, await bench.WaitForExitAsync());
        using JsonDocument report = JsonDocument.Parse(bench.Output);
        JsonElement root = report.RootElement;
        Assert.Equal(120, root.GetProperty("completed").GetInt64());
        Assert.Equal(0, root.GetProperty("errors").GetInt64());
        Assert.True(root.GetProperty("messagesPerSecond").GetDouble() > 0);
        JsonElement latency = root.GetProperty("latencyMs");
        double[] percentiles = new[] { "p50", "p90", "p99", "p999", "max" }.Select(p => latency.GetProperty(p).GetDouble()).ToArray();
        Assert.True(percentiles[0] > 0, bench.Output);
        Assert.Equal(percentiles.Order().ToArray(), percentiles);
    }

    [Fact]
    public async Task Bench_WithRate_PrintsTheFinalTable()
    {
        await using RecordingServer server = await RecordingServer.StartAsync();
        await using CliProcess bench = CliProcess.StartTool("bench", server.Url, "-c", "2", "-m", "10", "-s", "16", "--rate", "200");

        Assert.Equal(0, await bench.WaitForExitAsync());
        foreach (string row in new[] { "round trips", "throughput", "latency p50", "latency p90", "latency p99", "latency p99.9" })
        {
            Assert.Contains(row, bench.Output, StringComparison.Ordinal);
        }

        Assert.Contains("20 of 20", bench.Output, StringComparison.Ordinal);
        Assert.Contains("200 msg/s", bench.AllText, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", bench.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_RejectingServer_ExitsWithHandshakeRejected()
    {
        await using ServeProcess serve = await ServeProcess.StartAsync("--reject", "401");
        await using CliProcess bench = CliProcess.StartTool("bench", serve.Url, "-c", "2", "-m", "1");

        Assert.Equal(3, await bench.WaitForExitAsync());
        Assert.Contains("HTTP 401", bench.AllText, StringComparison.Ordinal);
    }
}
