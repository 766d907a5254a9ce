using Duplex.Internal;

namespace Duplex.Connection;

/// <summary>
/// Pings waiting for their Pong. RFC 6455 §5.5.3 lets a peer answer only the most recent of several
/// Pings, so a Pong acknowledges the Ping with the same payload and every Ping sent before it; a Pong
/// that matches nothing is ignored.
/// </summary>
internal sealed class PendingPings
{
    private readonly List<Entry> _entries = [];
    private long _lastRoundTripTicks = -1;

    /// <summary>The round-trip time of the most recently answered Ping; null before any.</summary>
    public TimeSpan? LastRoundTrip
    {
        get
        {
            long ticks = Interlocked.Read(ref _lastRoundTripTicks);
            return ticks < 0 ? null : TimeSpan.FromTicks(ticks);
        }
    }

    /// <summary>Registers a Ping about to be sent; <paramref name="byCaller"/> for <c>PingAsync</c>, false for keepalive.</summary>
    public Entry Add(byte[] payload, long timestamp, bool byCaller)
    {
        var entry = new Entry(payload, timestamp, byCaller);
        lock (_entries)
        {
            _entries.Add(entry);
        }

        return entry;
    }

    /// <summary>Forgets a Ping whose caller stopped waiting.</summary>
    public void Remove(Entry entry)
    {
        lock (_entries)
        {
            _entries.Remove(entry);
        }
    }

    /// <summary>Whether a <c>PingAsync</c> caller is waiting for its Pong.</summary>
    public bool AnyCallerWaiting()
    {
        lock (_entries)
        {
            return _entries.Exists(static entry => entry.ByCaller);
        }
    }

    /// <summary>Completes the Ping this Pong answers and all earlier ones; false when none matched.</summary>
    public bool OnPong(ReadOnlySpan<byte> payload, long timestamp, TimeProvider time)
    {
        int match = -1;
        Entry[] acknowledged;
        lock (_entries)
        {
            for (int i = 0; i < _entries.Count; i++)
            {
                if (payload.SequenceEqual(_entries[i].Payload))
                {
                    match = i;
                    break;
                }
            }

            if (match < 0)
            {
                return false;
            }

            acknowledged = _entries.GetRange(0, match + 1).ToArray();
            _entries.RemoveRange(0, match + 1);
        }

        // Recorded before any waiter resumes, so a caller that got its RTT sees it here too.
        Interlocked.Exchange(ref _lastRoundTripTicks, time.GetElapsedTime(acknowledged[^1].Timestamp, timestamp).Ticks);
        foreach (Entry entry in acknowledged)
        {
            entry.Completion.TrySetResult(time.GetElapsedTime(entry.Timestamp, timestamp));
        }

        return true;
    }

    /// <summary>Fails every waiting Ping when the connection ends, each with an exception of its own from <paramref name="error"/>.</summary>
    public void FailAll(Func<Exception> error)
    {
        Entry[] all;
        lock (_entries)
        {
            all = [.. _entries];
            _entries.Clear();
        }

        foreach (Entry entry in all)
        {
            ObservedFault.TrySet(entry.Completion, error());
        }
    }

    /// <summary>One Ping in flight.</summary>
    internal sealed class Entry(byte[] payload, long timestamp, bool byCaller)
    {
        public byte[] Payload { get; } = payload;

        public long Timestamp { get; } = timestamp;

        /// <summary>Sent by <c>PingAsync</c> (a caller waits for it), not by keepalive.</summary>
        public bool ByCaller { get; } = byCaller;

        public TaskCompletionSource<TimeSpan> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
