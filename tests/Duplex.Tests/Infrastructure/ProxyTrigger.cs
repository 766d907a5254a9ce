namespace Duplex.Tests.Infrastructure;

/// <summary>When a scheduled <see cref="ProxyFault"/> strikes: after some time, or after some bytes went through.</summary>
public sealed class ProxyTrigger
{
    private ProxyTrigger(TimeSpan? elapsed, long? bytes, ProxyDirection direction)
    {
        Elapsed = elapsed;
        Bytes = bytes;
        Direction = direction;
    }

    /// <summary>The time after scheduling (for a connection scheduled before it exists: after it is accepted); null for a byte trigger.</summary>
    public TimeSpan? Elapsed { get; }

    /// <summary>How many bytes must have been forwarded in <see cref="Direction"/>; null for a time trigger.</summary>
    public long? Bytes { get; }

    /// <summary>The direction whose forwarded bytes count (<see cref="ProxyDirection.Both"/>: both added up).</summary>
    public ProxyDirection Direction { get; }

    /// <summary>Strikes <paramref name="elapsed"/> after being scheduled.</summary>
    public static ProxyTrigger After(TimeSpan elapsed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(elapsed, TimeSpan.Zero);
        return new(elapsed, null, ProxyDirection.Both);
    }

    /// <summary>
    /// Strikes once exactly <paramref name="bytes"/> bytes have been forwarded in <paramref name="direction"/>:
    /// the proxy forwards up to that byte and no further before the fault applies.
    /// </summary>
    public static ProxyTrigger AfterBytes(long bytes, ProxyDirection direction)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        return new(null, bytes, direction);
    }
}
