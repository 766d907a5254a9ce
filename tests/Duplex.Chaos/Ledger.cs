using System.Text.Json.Nodes;
using Duplex.Tests.Infrastructure;

namespace Duplex.Chaos;

/// <summary>What the senders were told against what the server received, message by message.</summary>
internal sealed class Ledger
{
    public long Issued { get; private set; }

    public long Accepted { get; private set; }

    /// <summary>Distinct messages the server received.</summary>
    public long Delivered { get; private set; }

    /// <summary>Sends that threw (the message was reported as not sent).</summary>
    public long ReportedFailed { get; private set; }

    /// <summary>Accepted messages not delivered that the drop callback named.</summary>
    public long ReportedDropped { get; private set; }

    /// <summary>Accepted messages neither delivered nor reported: they were handed to the kernel when a link died.</summary>
    public long LostInFlight { get; private set; }

    /// <summary>The wire size (masked frames) of <see cref="LostInFlight"/>.</summary>
    public long LostFrameBytes { get; private set; }

    public long Duplicates { get; private set; }

    /// <summary>Messages that reached a server connection after a later message of the same sender on that connection.</summary>
    public long OutOfOrder { get; private set; }

    /// <summary>Sends that threw although the server received their message.</summary>
    public long FailedButDelivered { get; private set; }

    /// <summary>Sends that never returned.</summary>
    public long Pending { get; private set; }

    /// <summary>Messages the server received that no sender sent (or could not parse).</summary>
    public long Unknown { get; private set; }

    private long LongestSendTicks { get; set; }

    private long ProxyLostUp { get; set; }

    public static Ledger Reconcile(ChaosRig rig)
    {
        var ledger = new Ledger();
        var received = new Dictionary<(int Sender, long Sequence), int>();
        foreach (ServerConnectionLog connection in rig.Server.Connections)
        {
            var last = new Dictionary<int, long>();
            foreach ((int sender, long sequence) in connection.Messages)
            {
                if (last.TryGetValue(sender, out long previous) && sequence <= previous)
                {
                    ledger.OutOfOrder++;
                }

                last[sender] = sequence;
                received[(sender, sequence)] = received.GetValueOrDefault((sender, sequence)) + 1;
            }

            ledger.Unknown += connection.Unparsed;
        }

        ledger.Delivered = received.Count;
        ledger.Duplicates = received.Values.Sum(n => (long)n - 1);
        IReadOnlySet<(int Sender, long Sequence)> dropped = rig.Senders.Dropped;
        long known = 0;
        for (int sender = 0; sender < rig.Senders.Senders; sender++)
        {
            IReadOnlyList<MessageOutcome> outcomes = rig.Senders.OutcomesOf(sender);
            for (int i = 0; i < outcomes.Count; i++)
            {
                (int, long) key = (sender, i + 1);
                bool delivered = received.ContainsKey(key);
                known += delivered ? 1 : 0;
                ledger.Issued++;
                switch (outcomes[i])
                {
                    case MessageOutcome.Accepted:
                        ledger.Accepted++;
                        if (!delivered && dropped.Contains(key))
                        {
                            ledger.ReportedDropped++;
                        }
                        else if (!delivered)
                        {
                            ledger.LostInFlight++;
                            ledger.LostFrameBytes += SenderPool.FrameLength(System.Text.Encoding.UTF8.GetByteCount(rig.Senders.Format(sender, i + 1)));
                        }

                        break;
                    case MessageOutcome.Failed:
                        ledger.ReportedFailed++;
                        ledger.FailedButDelivered += delivered ? 1 : 0;
                        break;
                    default:
                        ledger.Pending++;
                        break;
                }
            }
        }

        ledger.Unknown += received.Count - known;
        ledger.LongestSendTicks = rig.Senders.LongestSend.Ticks;
        ledger.ProxyLostUp = rig.Proxy.GetBytesLost(ProxyDirection.ClientToServer);
        return ledger;
    }

    public void AddViolations(JsonArray violations, TimeSpan sendBound)
    {
        if (Duplicates > 0)
        {
            violations.Add($"{Duplicates} messages arrived more than once");
        }

        if (OutOfOrder > 0)
        {
            violations.Add($"{OutOfOrder} messages arrived after a later message of their sender on the same connection");
        }

        if (FailedButDelivered > 0)
        {
            violations.Add($"{FailedButDelivered} sends threw although their message was delivered");
        }

        if (Pending > 0)
        {
            violations.Add($"{Pending} sends never returned");
        }

        if (Unknown > 0)
        {
            violations.Add($"the server received {Unknown} messages nobody sent");
        }

        if (LostInFlight > 0 && ProxyLostUp == 0)
        {
            violations.Add($"{LostInFlight} accepted messages vanished although no link was cut with bytes in flight");
        }

        if (TimeSpan.FromTicks(LongestSendTicks) > sendBound)
        {
            violations.Add($"a send waited {Milliseconds.Of(TimeSpan.FromTicks(LongestSendTicks))} ms; the bound is {Milliseconds.Of(sendBound)} ms");
        }
    }
}
