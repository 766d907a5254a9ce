using System.Diagnostics;
using System.Text.Json.Nodes;
using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Chaos;

/// <summary>
/// Many senders on a link that dies one way (reset, FIN, stall, drip): how long until the client leaves Open
/// and reconnects, the longest any single send waited, and the longest a thread-pool work item waited to start.
/// Everything is timed from the orchestrating thread (the process's main thread, which blocks rather than
/// awaits), so a starved pool shows as long figures rather than a silent hang.
/// </summary>
internal static class LockupScenario
{
    public static int Run(HostArguments arguments, Action<JsonObject> report)
    {
        using var setup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        ChaosRig rig = ChaosRig.StartAsync(arguments, setup.Token).GetAwaiter().GetResult();
        rig.ConnectAsync(setup.Token).GetAwaiter().GetResult();
        rig.Senders.Start();

        // Traffic must be flowing on the link before it dies, and the application keeping up with it.
        bool warmedUp = rig.WaitAccepted(500, TimeSpan.FromSeconds(10)) && rig.WaitCaughtUp(TimeSpan.FromSeconds(5));

        (ProxyFault fault, bool byKeepAlive) = arguments.Fault switch
        {
            "rst" => (ProxyFault.Reset, false),
            "fin" => (ProxyFault.Fin, false),
            "stall" => (ProxyFault.Stall(), true),
            _ => (ProxyFault.Drip(64, TimeSpan.FromMilliseconds(50)), true),
        };
        TimeSpan holdFor = ChaosRig.HandlerHoldAfter(byKeepAlive);
        TimeSpan noticeBound = ChaosRig.HeldNoticeBound(byKeepAlive ? ChaosRig.KeepAliveNoticeBound : ChaosRig.PromptNoticeBound, holdFor);
        TimeSpan sendBound = noticeBound + ChaosRig.MaxDelay + ChaosRig.Margin;
        long acceptedBefore = rig.Senders.AcceptedCount;
        // The pool's latency under this load with a healthy link, for comparison.
        using var pool = new PoolLatencyProbe();
        Thread.Sleep(200);
        TimeSpan poolDelayBefore = pool.Longest;
        pool.Reset();

        // The link dies while the application's handler awaits I/O, so the client's message pump is busy: sends
        // that meet the dead connection meanwhile must go to the outbox, not retry in place.
        bool held = rig.HoldHandler(TimeSpan.FromSeconds(5));
        TimeSpan cpuAtFault = Process.GetCurrentProcess().TotalProcessorTime;
        long faultAt = Stopwatch.GetTimestamp();
        ProxyConnection? link = rig.Proxy.ApplyToCurrent(fault);
        Thread.Sleep(holdFor);
        rig.ReleaseHandler();
        long? leftOpen = rig.States.WaitLeftOpen(faultAt, arguments.Observe);
        TimeSpan cpuUntilNotice = Process.GetCurrentProcess().TotalProcessorTime - cpuAtFault;
        TimeSpan wallUntilNotice = Stopwatch.GetElapsedTime(faultAt, leftOpen ?? Stopwatch.GetTimestamp());
        TimeSpan poolDelayUntilNotice = pool.Longest;
        long? reopened = leftOpen is { } left ? rig.States.WaitFor(left, c => c.To == WebSocketClientState.Open, TimeSpan.FromSeconds(10)) : null;
        if (leftOpen is not null && link is not null)
        {
            // The client has given the link up: the network drops it for good, and its counts become final.
            link.Apply(ProxyFault.Reset);
            Blocking.Quietly(link.Completion, TimeSpan.FromSeconds(2));
        }

        if (reopened is not null)
        {
            // Sends flow again on the new link before the senders stop.
            rig.WaitAccepted(rig.Senders.AcceptedCount + 200, TimeSpan.FromSeconds(5));
        }

        rig.Senders.Stop();
        bool stopped = rig.Senders.WaitStopped(TimeSpan.FromSeconds(10));
        TimeSpan longestSend = rig.Senders.LongestSend;
        var violations = new JsonArray();
        if (!warmedUp)
        {
            violations.Add("fewer than 500 sends were accepted before the fault, or the handler did not keep up with their echoes");
        }

        if (!held)
        {
            violations.Add("no message reached the handler within 5 s, so it could not be held across the fault");
        }

        if (leftOpen is null)
        {
            violations.Add($"the client stayed Open for {Milliseconds.Of(arguments.Observe)} ms after the {arguments.Fault} (the observation limit)");
        }
        else if (Stopwatch.GetElapsedTime(faultAt, leftOpen.Value) > noticeBound)
        {
            violations.Add($"the client left Open {Milliseconds.Between(faultAt, leftOpen.Value)} ms after the {arguments.Fault}; the bound is {Milliseconds.Of(noticeBound)} ms");
        }

        if (leftOpen is not null && reopened is null)
        {
            violations.Add("the client did not open a new connection within 10 s of leaving Open");
        }

        if (poolDelayUntilNotice > ChaosRig.Margin)
        {
            violations.Add($"a thread-pool work item waited {Milliseconds.Of(poolDelayUntilNotice)} ms to start; the bound is {Milliseconds.Of(ChaosRig.Margin)} ms");
        }

        if (longestSend > sendBound)
        {
            violations.Add($"a send waited {Milliseconds.Of(longestSend)} ms; the bound is {Milliseconds.Of(sendBound)} ms");
        }

        if (!stopped)
        {
            violations.Add($"{rig.Senders.InFlight} senders did not return within 10 s of being asked to stop");
        }

        var summary = new JsonObject
        {
            ["scenario"] = "lockup",
            ["fault"] = arguments.Fault,
            ["faultApplied"] = fault.ToString(),
            ["senders"] = arguments.Senders,
            ["threadPool"] = ProcessFigures.ThreadPoolNow(),
            ["keepAliveIntervalMs"] = Milliseconds.Of(ChaosRig.KeepAliveInterval),
            ["keepAliveTimeoutMs"] = Milliseconds.Of(ChaosRig.KeepAliveTimeout),
            ["closeTimeoutMs"] = Milliseconds.Of(ChaosRig.CloseTimeout),
            ["reconnectMaxDelayMs"] = Milliseconds.Of(ChaosRig.MaxDelay),
            ["acceptedBeforeFault"] = acceptedBefore,
            ["handlerHeldMs"] = held ? Milliseconds.Of(holdFor) : null,
            ["noticed"] = leftOpen is not null,
            ["noticeMs"] = leftOpen is { } l ? Milliseconds.Between(faultAt, l) : null,
            ["noticeBoundMs"] = Milliseconds.Of(noticeBound),
            ["reopened"] = reopened is not null,
            ["reopenMs"] = reopened is { } r ? Milliseconds.Between(faultAt, r) : null,
            ["longestSendMs"] = Milliseconds.Of(longestSend),
            ["longestPoolDelayBeforeFaultMs"] = Milliseconds.Of(poolDelayBefore),
            ["longestPoolDelayUntilNoticeMs"] = Milliseconds.Of(poolDelayUntilNotice),
            ["cpuUntilNoticeMs"] = Milliseconds.Of(cpuUntilNotice),
            ["coresBusyUntilNotice"] = Math.Round(cpuUntilNotice / wallUntilNotice, 2),
            ["sendBoundMs"] = Milliseconds.Of(sendBound),
            ["sendersStopped"] = stopped,
            ["sendsInFlightAtEnd"] = rig.Senders.InFlight,
            ["accepted"] = rig.Senders.AcceptedCount,
            ["echoesReceived"] = rig.EchoesReceived,
            ["failed"] = rig.Senders.FailedCount,
            ["proxyLostBytes"] = link?.GetBytesLost(ProxyDirection.Both),
            ["violations"] = violations,
        };
        report(summary);
        if (!stopped || leftOpen is null)
        {
            // Threads are stuck in sends: nothing would come of a clean shutdown.
            return violations.Count == 0 ? 0 : 1;
        }

        rig.CloseAndDispose(TimeSpan.FromSeconds(5));
        return violations.Count == 0 ? 0 : 1;
    }
}
