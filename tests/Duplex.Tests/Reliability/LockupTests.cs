using System.Globalization;
using System.Text.Json;

namespace Duplex.Tests.Reliability;

/// <summary>
/// Many concurrent senders (at least four per core) on a link that dies, in a process whose thread pool keeps
/// its default minimum: the client must notice and start reconnecting within its bound (at once for a reset
/// or FIN, within keepalive's verdict for a stall or a drip), no send may wait longer than that plus a
/// reconnect, and no thread-pool work item may be kept waiting, as sends that retry in place on a dead
/// connection would keep it. The link dies while the application's handler awaits I/O, so the client's message
/// pump is busy at that moment (see the chaos host's lock-up scenario).
/// </summary>
[Collection(nameof(ChaosHostCollection))]
public sealed class LockupTests
{
    [Theory]
    [InlineData("rst")]
    [InlineData("fin")]
    [InlineData("stall")]
    [InlineData("drip")]
    public async Task ManySendersOnADyingLink_ClientLeavesOpenWithinItsBound_NoSendOrPoolThreadIsHeldUp(string fault)
    {
        int senders = Math.Max(16, 4 * Environment.ProcessorCount);

        ChaosHostRun run = await ChaosHostRun.StartAsync(
            TimeSpan.FromSeconds(120), "lockup", "--fault", fault, "--senders", senders.ToString(CultureInfo.InvariantCulture), "--observe", "20s");

        JsonElement pool = run.Summary.GetProperty("threadPool");
        Assert.Equal(Environment.ProcessorCount, pool.GetProperty("minWorkerThreads").GetInt32());
        Assert.Equal(senders, run.Summary.GetProperty("senders").GetInt32());
        string figures = string.Create(
            CultureInfo.InvariantCulture,
            $"""
            {fault} with {senders} senders, pool minimum {pool.GetProperty("minWorkerThreads")} (threads at the end: {pool.GetProperty("threadCount")}):
              left Open after {Text(run, "noticeMs")} ms (bound {run.Number("noticeBoundMs")} ms), reopened after {Text(run, "reopenMs")} ms
              longest send {run.Number("longestSendMs")} ms (bound {run.Number("sendBoundMs")} ms), longest pool delay {run.Number("longestPoolDelayUntilNoticeMs")} ms, {run.Number("coresBusyUntilNotice")} cores busy until then
            violations:
            {run.Violations}
            """);
        Assert.True(run.Summary.GetProperty("noticed").GetBoolean(), figures);
        Assert.True(run.Number("noticeMs") <= run.Number("noticeBoundMs"), figures);
        Assert.True(run.Summary.GetProperty("reopened").GetBoolean(), figures);
        Assert.True(run.Number("longestSendMs") <= run.Number("sendBoundMs"), figures);
        Assert.True(run.Summary.GetProperty("sendersStopped").GetBoolean(), figures);
        Assert.True(run.ExitCode == 0, figures);
    }

    private static string Text(ChaosHostRun run, string name) =>
        run.Summary.GetProperty(name) is { ValueKind: JsonValueKind.Number } value ? value.GetDouble().ToString(CultureInfo.InvariantCulture) : "never";
}
