using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Chaos;

/// <summary>
/// Random faults of every kind, one at a time, while many senders send numbered messages; at the end, what
/// the server received is matched against what every send call said happened.
/// </summary>
/// <remarks>
/// <para>Between faults the client gets a healthy spell. A fault that kills the link must be noticed within
/// its bound (a reset or FIN at once, a stall or drip by keepalive); half of them strike while the
/// application's handler is held awaiting I/O. Once the client has left the link, the proxy resets it, as the
/// network would in the end, so its stale bytes never arrive late.</para>
/// <para>Invariants: no message arrives twice; per server connection each sender's sequence numbers rise;
/// every accepted message is delivered or reported (its send threw, or the drop callback named it), except
/// those lost in flight, which are counted and set against the bytes the proxy lost; no send waited longer
/// than the keepalive notice, two reconnect delays and a margin; every reconnect delay lies within the
/// backoff bounds.</para>
/// </remarks>
internal static class ChaosScenario
{
    private static readonly string[] s_kinds = ["rst", "fin", "stall", "drip", "delay", "halfopen-up", "halfopen-down", "refuse-next"];

    public static int Run(HostArguments arguments, Action<JsonObject> report)
    {
        var random = new Random(arguments.Seed);
        using var setup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        ChaosRig rig = ChaosRig.StartAsync(arguments, setup.Token).GetAwaiter().GetResult();
        ProcessFigures before = ProcessFigures.Measure();
        rig.ConnectAsync(setup.Token).GetAwaiter().GetResult();
        rig.Senders.Start();
        using var pool = new PoolLatencyProbe();

        var violations = new JsonArray();
        var faults = new JsonArray();
        var counts = s_kinds.ToDictionary(k => k, _ => 0, StringComparer.Ordinal);
        TimeSpan sendBound = ChaosRig.KeepAliveNoticeBound + ChaosRig.MaxDelay + ChaosRig.MaxDelay + ChaosRig.Margin;
        long started = Stopwatch.GetTimestamp();
        bool stuck = false;
        var deck = new List<string>();
        while (Stopwatch.GetElapsedTime(started) < arguments.Duration && !rig.Senders.BudgetSpent)
        {
            if (rig.States.WaitOpen(Stopwatch.GetTimestamp(), rig.Client, TimeSpan.FromSeconds(15)) is null)
            {
                violations.Add("the client was not Open again within 15 s");
                stuck = true;
                break;
            }

            // A healthy spell first, with the application caught up.
            Thread.Sleep(random.Next(300, 1500));
            bool caughtUp = rig.WaitCaughtUp(TimeSpan.FromSeconds(5));
            if (Stopwatch.GetElapsedTime(started) >= arguments.Duration || rig.Senders.BudgetSpent)
            {
                break;
            }

            // Dealt from a shuffled deck, so that a short run still meets every kind.
            if (deck.Count == 0)
            {
                deck.AddRange(s_kinds.OrderBy(_ => random.Next()));
            }

            string kind = deck[^1];
            deck.RemoveAt(deck.Count - 1);

            // Half the fatal faults strike while the application's handler awaits I/O (the client's message
            // pump is busy then, and sends that meet the dead connection must not retry in place).
            bool hold = kind != "delay" && random.Next(2) == 0 && rig.HoldHandler(TimeSpan.FromSeconds(2));
            long at = Stopwatch.GetTimestamp();
            (ProxyConnection? link, TimeSpan? bound) = Inject(rig.Proxy, kind, random);
            var record = new JsonObject { ["kind"] = kind, ["atMs"] = Milliseconds.Between(started, at), ["handlerHeld"] = hold, ["caughtUp"] = caughtUp };
            faults.Add(record);
            if (hold)
            {
                TimeSpan holdFor = ChaosRig.HandlerHoldAfter(keepAliveNotices: bound == ChaosRig.KeepAliveNoticeBound);
                Thread.Sleep(holdFor);
                rig.ReleaseHandler();
                bound = ChaosRig.HeldNoticeBound(bound!.Value, holdFor);
            }

            if (link is null)
            {
                record["skipped"] = true;
                continue;
            }

            counts[kind]++;
            if (bound is null)
            {
                // A delay: the link slows down for a while, then recovers.
                Thread.Sleep(random.Next(500, 1500));
                link.Apply(ProxyFault.Heal());
                continue;
            }

            long? left = rig.States.WaitLeftOpen(at, bound.Value + TimeSpan.FromSeconds(10));
            if (left is null)
            {
                violations.Add($"the client stayed Open for {Milliseconds.Of(bound.Value + TimeSpan.FromSeconds(10))} ms after a {kind} at {record["atMs"]} ms");
                stuck = true;
                break;
            }

            double noticeMs = Milliseconds.Between(at, left.Value);
            record["noticeMs"] = noticeMs;
            if (Stopwatch.GetElapsedTime(at, left.Value) > bound.Value)
            {
                violations.Add($"a {kind} at {record["atMs"]} ms was noticed after {noticeMs} ms; the bound is {Milliseconds.Of(bound.Value)} ms");
            }

            // The client has given the link up: the network drops it for good.
            link.Apply(ProxyFault.Reset);
        }

        rig.Proxy.ApplyToAll(ProxyFault.Heal());
        if (!stuck && rig.States.WaitOpen(Stopwatch.GetTimestamp(), rig.Client, TimeSpan.FromSeconds(15)) is null)
        {
            violations.Add("the client was not Open again within 15 s of the last fault");
        }

        rig.Senders.Stop();
        if (!rig.Senders.WaitStopped(TimeSpan.FromSeconds(15)))
        {
            violations.Add($"{rig.Senders.InFlight} senders did not return within 15 s of being asked to stop");
            stuck = true;
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        if (stuck)
        {
            // Threads are stuck: report what is known and leave without a clean shutdown.
            report(new JsonObject
            {
                ["scenario"] = "chaos",
                ["seed"] = arguments.Seed,
                ["senders"] = arguments.Senders,
                ["threadPool"] = ProcessFigures.ThreadPoolNow(),
                ["elapsedMs"] = Milliseconds.Of(elapsed),
                ["accepted"] = rig.Senders.AcceptedCount,
                ["failed"] = rig.Senders.FailedCount,
                ["longestSendMs"] = Milliseconds.Of(rig.Senders.LongestSend),
                ["sendBoundMs"] = Milliseconds.Of(sendBound),
                ["longestPoolDelayMs"] = Milliseconds.Of(pool.Longest),
                ["faults"] = faults,
                ["violations"] = violations,
            });
            return 1;
        }

        // A clean close sends what waits in the outbox; then every link ends and the server has seen it all.
        if (!Blocking.Quietly(rig.Client.CloseAsync(), TimeSpan.FromSeconds(10)))
        {
            violations.Add("the client did not close within 10 s");
        }

        if (!Blocking.Until(() => rig.Server.ActiveConnections == 0 && rig.Proxy.Connections.All(c => c.Completion.IsCompleted), TimeSpan.FromSeconds(10)))
        {
            violations.Add($"{rig.Server.ActiveConnections} server connections were still open 10 s after the close");
        }

        Ledger ledger = Ledger.Reconcile(rig);
        ledger.AddViolations(violations, sendBound);
        if (pool.Longest > ChaosRig.Margin)
        {
            violations.Add($"a thread-pool work item waited {Milliseconds.Of(pool.Longest)} ms to start; the bound is {Milliseconds.Of(ChaosRig.Margin)} ms");
        }

        CheckReconnectDelays(rig, violations);
        rig.Client.Dispose();
        ProcessFigures after = ProcessFigures.Measure();

        int reconnects = rig.States.Changes.Count(c => c.To == WebSocketClientState.Open) - 1;
        var summary = new JsonObject
        {
            ["scenario"] = "chaos",
            ["seed"] = arguments.Seed,
            ["senders"] = arguments.Senders,
            ["threadPool"] = ProcessFigures.ThreadPoolNow(),
            ["elapsedMs"] = Milliseconds.Of(elapsed),
            ["issued"] = ledger.Issued,
            ["accepted"] = ledger.Accepted,
            ["delivered"] = ledger.Delivered,
            ["reported"] = ledger.ReportedFailed + ledger.ReportedDropped,
            ["reportedBySendException"] = ledger.ReportedFailed,
            ["reportedByDropCallback"] = ledger.ReportedDropped,
            ["dropCallbacks"] = rig.Senders.DroppedReports,
            ["lostInFlight"] = ledger.LostInFlight,
            ["lostInFlightFrameBytes"] = ledger.LostFrameBytes,
            ["proxyLostClientToServerBytes"] = rig.Proxy.GetBytesLost(ProxyDirection.ClientToServer),
            ["proxyLostServerToClientBytes"] = rig.Proxy.GetBytesLost(ProxyDirection.ServerToClient),
            ["duplicates"] = ledger.Duplicates,
            ["outOfOrder"] = ledger.OutOfOrder,
            ["failedButDelivered"] = ledger.FailedButDelivered,
            ["pendingSends"] = ledger.Pending,
            ["unknownDelivered"] = ledger.Unknown,
            ["reconnects"] = reconnects,
            ["proxyConnections"] = rig.Proxy.Connections.Count,
            ["longestSendMs"] = Milliseconds.Of(rig.Senders.LongestSend),
            ["sendBoundMs"] = Milliseconds.Of(sendBound),
            ["longestPoolDelayMs"] = Milliseconds.Of(pool.Longest),
            ["longestNoticeMs"] = faults.Select(f => f!["noticeMs"]?.GetValue<double>() ?? 0).DefaultIfEmpty(0).Max(),
            ["echoesReceived"] = rig.EchoesReceived,
            ["sendFailures"] = new JsonObject(rig.Senders.Failures.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["faultCounts"] = new JsonObject(counts.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
            ["managedBytesBefore"] = before.ManagedBytes,
            ["managedBytesAfter"] = after.ManagedBytes,
            ["handlesBefore"] = before.Handles,
            ["handlesAfter"] = after.Handles,
            ["faults"] = faults,
            ["violations"] = violations,
        };
        Console.Out.Write(Table(summary));
        report(summary);
        Blocking.Quietly(rig.DisposeAsync().AsTask(), TimeSpan.FromSeconds(20));
        return violations.Count == 0 ? 0 : 1;
    }

    /// <summary>Applies one fault to the current link; returns the link (null if none was open) and the notice bound (null: not fatal).</summary>
    private static (ProxyConnection? Link, TimeSpan? Bound) Inject(FaultInjectingProxy proxy, string kind, Random random)
    {
        switch (kind)
        {
            case "rst":
                return (proxy.ApplyToCurrent(ProxyFault.Reset), ChaosRig.PromptNoticeBound);
            case "fin":
                return (proxy.ApplyToCurrent(ProxyFault.Fin), ChaosRig.PromptNoticeBound);
            case "stall":
                return (proxy.ApplyToCurrent(ProxyFault.Stall()), ChaosRig.KeepAliveNoticeBound);
            case "drip":
                return (proxy.ApplyToCurrent(ProxyFault.Drip(64, TimeSpan.FromMilliseconds(50))), ChaosRig.KeepAliveNoticeBound);
            case "delay":
                return (proxy.ApplyToCurrent(ProxyFault.Delay(TimeSpan.FromMilliseconds(random.Next(20, 300)))), null);
            case "halfopen-up":
                // The server reads a FIN and our Pings vanish: keepalive, or the server's own close, ends it.
                return (proxy.ApplyToCurrent(ProxyFault.HalfOpen(ProxyDirection.ClientToServer)), ChaosRig.KeepAliveNoticeBound);
            case "halfopen-down":
                return (proxy.ApplyToCurrent(ProxyFault.HalfOpen(ProxyDirection.ServerToClient)), ChaosRig.PromptNoticeBound);
            default:
                // The link dies and the first attempt to replace it is reset too.
                proxy.ApplyToNext(ProxyFault.Reset);
                return (proxy.ApplyToCurrent(ProxyFault.Reset), ChaosRig.PromptNoticeBound);
        }
    }

    /// <summary>Every announced delay, and every wait between Disconnected and Connecting, lies within the backoff bounds.</summary>
    private static void CheckReconnectDelays(ChaosRig rig, JsonArray violations)
    {
        TimeSpan lower = ChaosRig.InitialDelay * (1 - ChaosRig.Jitter);
        TimeSpan upper = ChaosRig.MaxDelay;
        foreach (TimeSpan? delay in rig.ReconnectDelays)
        {
            if (delay is not { } d || d < lower || d > upper)
            {
                violations.Add($"a disconnect announced a reconnect delay of {delay?.TotalMilliseconds} ms, outside [{lower.TotalMilliseconds}, {upper.TotalMilliseconds}] ms");
            }
        }

        IReadOnlyList<StateChange> changes = rig.States.Changes;
        for (int i = 0; i + 1 < changes.Count; i++)
        {
            if (changes[i].To == WebSocketClientState.Disconnected && changes[i + 1] is { From: WebSocketClientState.Disconnected, To: WebSocketClientState.Connecting } next)
            {
                TimeSpan waited = Stopwatch.GetElapsedTime(changes[i].Timestamp, next.Timestamp);

                // The timer is armed just before the state says Disconnected, and may fire a tick early.
                if (waited < lower - TimeSpan.FromMilliseconds(5) || waited > upper + ChaosRig.Margin)
                {
                    violations.Add($"the client waited {Milliseconds.Of(waited)} ms between Disconnected and Connecting, outside [{lower.TotalMilliseconds}, {(upper + ChaosRig.Margin).TotalMilliseconds}] ms");
                }
            }
        }
    }

    private static string Table(JsonObject s)
    {
        var table = new StringBuilder();
        void Row(string name, string value) => table.Append(CultureInfo.InvariantCulture, $"| {name,-22} | {value,-52} |\n");
        table.Append(CultureInfo.InvariantCulture, $"| {"chaos",-22} | {$"seed {s["seed"]}, {s["senders"]} senders, {s["elapsedMs"]} ms",-52} |\n");
        table.Append("|------------------------|------------------------------------------------------|\n");
        Row("issued / accepted", $"{s["issued"]} / {s["accepted"]}");
        Row("delivered", $"{s["delivered"]}");
        Row("reported", $"{s["reported"]} (send threw {s["reportedBySendException"]}, drop callback {s["reportedByDropCallback"]})");
        Row("lost in flight", $"{s["lostInFlight"]} msgs, {s["lostInFlightFrameBytes"]} B; proxy lost {s["proxyLostClientToServerBytes"]} B up");
        Row("duplicates", $"{s["duplicates"]}");
        Row("out of order", $"{s["outOfOrder"]}");
        Row("reconnects", $"{s["reconnects"]} ({s["proxyConnections"]} links)");
        Row("longest stall", $"{s["longestSendMs"]} ms (bound {s["sendBoundMs"]} ms)");
        Row("longest notice", $"{s["longestNoticeMs"]} ms");
        Row("longest pool delay", $"{s["longestPoolDelayMs"]} ms");
        Row("managed memory", $"{(long)s["managedBytesBefore"]! / 1024} KiB before, {(long)s["managedBytesAfter"]! / 1024} KiB after");
        Row("handles", $"{s["handlesBefore"]} before, {s["handlesAfter"]} after");
        Row("violations", $"{((JsonArray)s["violations"]!).Count}");
        return table.ToString();
    }
}
