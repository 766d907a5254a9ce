using System.Text.Json;
using System.Text.Json.Nodes;
using Duplex.Chaos;

// Fault-injection host: an in-process Kestrel recording server, the fault proxy in front of it and a
// resilient WebSocketClient with many concurrent senders, in a process whose thread pool keeps its default
// minimum (one thread per core). Nothing here awaits: the scenarios run on the main thread, never on the
// pool, so they keep time while the pool may be starved. The last line printed is a JSON summary. Exit code
// 0 when every bound and invariant held, 1 when one did not (the summary's "violations" say which), 2 on bad
// arguments, 3 when the host itself failed or did not finish.
//
//   lockup --fault rst|fin|stall|drip [--senders 16] [--observe 30s] [--interval 2ms] [--padding 24]
//   chaos [--duration 20s] [--senders 16] [--messages N] [--seed S] [--interval 2ms] [--padding 24]
HostArguments? arguments = HostArguments.Parse(args, out string? error);
if (arguments is null)
{
    Console.Error.WriteLine(error);
    Console.Error.WriteLine(HostArguments.Usage);
    return 2;
}

int reported = 0;
void Report(JsonObject summary)
{
    if (Interlocked.Exchange(ref reported, 1) != 0)
    {
        return;
    }

    Console.Out.WriteLine(summary.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
    Console.Out.Flush();
}

// A watchdog of its own thread: if the scenario cannot finish (threads stuck), the summary still comes out.
TimeSpan hardLimit = (arguments.Scenario == "lockup" ? arguments.Observe : arguments.Duration) + TimeSpan.FromSeconds(60);
var watchdog = new Thread(() =>
{
    Thread.Sleep(hardLimit);
    Report(new JsonObject
    {
        ["scenario"] = arguments.Scenario,
        ["error"] = $"the host did not finish within {hardLimit.TotalSeconds:0} s",
        ["threadPool"] = ProcessFigures.ThreadPoolNow(),
    });
    Environment.Exit(3);
})
{ IsBackground = true, Name = "chaos watchdog" };
watchdog.Start();

int exitCode;
try
{
    exitCode = arguments.Scenario == "lockup"
        ? LockupScenario.Run(arguments, Report)
        : ChaosScenario.Run(arguments, Report);
}
catch (Exception ex)
{
    Report(new JsonObject { ["scenario"] = arguments.Scenario, ["error"] = ex.ToString() });
    exitCode = 3;
}

// Senders stuck in a send would keep the process alive; the summary is out, so leave now.
Console.Out.Flush();
Environment.Exit(exitCode);
return exitCode;
