using System.Globalization;
using System.Text.Json;

namespace Duplex.Tests.Reliability;

/// <summary>
/// A bounded run of random faults of every kind under many concurrent senders (the chaos host's chaos
/// scenario, in a child process with a default thread pool): nothing duplicated, nothing reordered on a
/// connection, every accepted message delivered, reported, or counted as lost in flight on a link that was cut,
/// no send held up past its bound, every reconnect delay within the backoff bounds.
/// </summary>
[Collection(nameof(ChaosHostCollection))]
public sealed class ChaosRunTests
{
    [Fact]
    public async Task RandomFaultsUnderLoad_EveryMessageAccountedFor_NoneTwiceOrOutOfOrder_NoSendHeldUp()
    {
        int senders = Math.Max(16, 4 * Environment.ProcessorCount);
        int seed = Random.Shared.Next();

        ChaosHostRun run = await ChaosHostRun.StartAsync(
            TimeSpan.FromSeconds(110), "chaos", "--duration", "20s", "--senders", senders.ToString(CultureInfo.InvariantCulture), "--seed", seed.ToString(CultureInfo.InvariantCulture));

        JsonElement summary = run.Summary;
        string report = $"seed {seed} (replay: dotnet tests/Duplex.Chaos/bin/Release/net10.0/Duplex.Chaos.dll chaos --duration 20s --senders {senders} --seed {seed})\n{run.Output}\nviolations:\n{run.Violations}";
        Assert.Equal(Environment.ProcessorCount, summary.GetProperty("threadPool").GetProperty("minWorkerThreads").GetInt32());
        Assert.True(run.Violations == "none", report);
        Assert.True(summary.TryGetProperty("delivered", out _), report);

        Assert.Equal(0, run.Number("duplicates"));
        Assert.Equal(0, run.Number("outOfOrder"));
        Assert.Equal(0, run.Number("pendingSends"));
        Assert.Equal(0, run.Number("failedButDelivered"));
        Assert.Equal(0, run.Number("unknownDelivered"));

        // Every send call is accounted for: it threw (reported), or its message was delivered, named by the
        // drop callback, or lost in flight on a link that was cut with bytes the proxy never forwarded.
        Assert.Equal(run.Number("issued"), run.Number("accepted") + run.Number("reportedBySendException"));
        Assert.Equal(run.Number("accepted"), run.Number("delivered") + run.Number("reportedByDropCallback") + run.Number("lostInFlight"));
        Assert.True(run.Number("lostInFlight") == 0 || run.Number("proxyLostClientToServerBytes") > 0, report);

        Assert.True(run.Number("longestSendMs") <= run.Number("sendBoundMs"), report);
        Assert.True(run.Number("reconnects") >= 3, report);
        Assert.True(summary.GetProperty("faults").GetArrayLength() >= 5, report);
        Assert.True(run.ExitCode == 0, report);
    }
}
