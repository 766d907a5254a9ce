using System.Diagnostics;
using Duplex.Client;

namespace Duplex.Chaos;

/// <summary>
/// The client's state changes with their times, and blocking waits for one that need no thread-pool thread:
/// the orchestrating thread must keep time while the pool may be starved.
/// </summary>
internal sealed class StateLog
{
    private readonly object _gate = new();
    private readonly List<StateChange> _changes = [];

    public StateLog(WebSocketClient client) => client.StateChanged += (_, e) => Record(e.Previous, e.Current);

    public IReadOnlyList<StateChange> Changes
    {
        get
        {
            lock (_gate)
            {
                return [.. _changes];
            }
        }
    }

    /// <summary>Waits until a change after <paramref name="since"/> matches; its timestamp, or null on timeout.</summary>
    public long? WaitFor(long since, Func<StateChange, bool> match, TimeSpan timeout)
    {
        long deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_gate)
        {
            while (true)
            {
                foreach (StateChange change in _changes)
                {
                    if (change.Timestamp >= since && match(change))
                    {
                        return change.Timestamp;
                    }
                }

                long remaining = deadline - Stopwatch.GetTimestamp();
                if (remaining <= 0)
                {
                    return null;
                }

                Monitor.Wait(_gate, TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
            }
        }
    }

    /// <summary>Waits until the client leaves Open after <paramref name="since"/>.</summary>
    public long? WaitLeftOpen(long since, TimeSpan timeout) => WaitFor(since, c => c.From == WebSocketClientState.Open, timeout);

    /// <summary>Waits until the client is Open after <paramref name="since"/> (at once if it is Open now and was before).</summary>
    public long? WaitOpen(long since, WebSocketClient client, TimeSpan timeout) =>
        client.State == WebSocketClientState.Open ? Stopwatch.GetTimestamp() : WaitFor(since, c => c.To == WebSocketClientState.Open, timeout);

    private void Record(WebSocketClientState previous, WebSocketClientState current)
    {
        lock (_gate)
        {
            _changes.Add(new StateChange(Stopwatch.GetTimestamp(), previous, current));
            Monitor.PulseAll(_gate);
        }
    }
}
