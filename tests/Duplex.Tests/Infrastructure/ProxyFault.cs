using System.Globalization;

namespace Duplex.Tests.Infrastructure;

/// <summary>One thing a <see cref="FaultInjectingProxy"/> can do to a connection; made by the static factories.</summary>
public sealed class ProxyFault
{
    private ProxyFault(ProxyFaultKind kind, ProxyDirection direction, TimeSpan latency = default, int dripBytes = 0, TimeSpan dripInterval = default)
    {
        Kind = kind;
        Direction = direction;
        Latency = latency;
        DripBytes = dripBytes;
        DripInterval = dripInterval;
    }

    /// <summary>A TCP RST to both peers; everything the proxy held is lost.</summary>
    public static ProxyFault Reset { get; } = new(ProxyFaultKind.Reset, ProxyDirection.Both);

    /// <summary>A graceful shutdown (FIN) to both peers; everything the proxy held, or reads afterwards, is lost.</summary>
    public static ProxyFault Fin { get; } = new(ProxyFaultKind.Fin, ProxyDirection.Both);

    /// <summary>What the fault does.</summary>
    public ProxyFaultKind Kind { get; }

    /// <summary>The direction it applies to (<see cref="ProxyDirection.Both"/> for <see cref="Reset"/> and <see cref="Fin"/>).</summary>
    public ProxyDirection Direction { get; }

    /// <summary>For <see cref="ProxyFaultKind.Delay"/>: how long each byte is held.</summary>
    public TimeSpan Latency { get; }

    /// <summary>For <see cref="ProxyFaultKind.Drip"/>: how many bytes go per interval.</summary>
    public int DripBytes { get; }

    /// <summary>For <see cref="ProxyFaultKind.Drip"/>: the pause after each little write.</summary>
    public TimeSpan DripInterval { get; }

    /// <summary>Stops forwarding in <paramref name="direction"/>; bytes pile up in the proxy, then in the kernel.</summary>
    public static ProxyFault Stall(ProxyDirection direction = ProxyDirection.Both) => new(ProxyFaultKind.Stall, direction);

    /// <summary>Holds every byte in <paramref name="direction"/> for <paramref name="latency"/>.</summary>
    public static ProxyFault Delay(TimeSpan latency, ProxyDirection direction = ProxyDirection.Both)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(latency, TimeSpan.Zero);
        return new(ProxyFaultKind.Delay, direction, latency: latency);
    }

    /// <summary>Forwards <paramref name="bytes"/> bytes every <paramref name="interval"/> in <paramref name="direction"/>.</summary>
    public static ProxyFault Drip(int bytes, TimeSpan interval, ProxyDirection direction = ProxyDirection.Both)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(interval, TimeSpan.Zero);
        return new(ProxyFaultKind.Drip, direction, dripBytes: bytes, dripInterval: interval);
    }

    /// <summary>Shuts <paramref name="direction"/> (one way, not <see cref="ProxyDirection.Both"/>): its receiver reads a FIN, its sender's bytes are discarded.</summary>
    public static ProxyFault HalfOpen(ProxyDirection direction)
    {
        if (direction == ProxyDirection.Both)
        {
            throw new ArgumentOutOfRangeException(nameof(direction), direction, "A half-open link shuts one direction; use Fin for both.");
        }

        return new(ProxyFaultKind.HalfOpen, direction);
    }

    /// <summary>Undoes stalls, delays and drips in <paramref name="direction"/>.</summary>
    public static ProxyFault Heal(ProxyDirection direction = ProxyDirection.Both) => new(ProxyFaultKind.Heal, direction);

    /// <summary>A short name such as <c>stall(ClientToServer)</c> or <c>drip(64 B/50 ms)</c>, for logs and reports.</summary>
    public override string ToString() => Kind switch
    {
        ProxyFaultKind.Reset => "rst",
        ProxyFaultKind.Fin => "fin",
        ProxyFaultKind.Delay => string.Create(CultureInfo.InvariantCulture, $"delay({Latency.TotalMilliseconds:0} ms, {Direction})"),
        ProxyFaultKind.Drip => string.Create(CultureInfo.InvariantCulture, $"drip({DripBytes} B/{DripInterval.TotalMilliseconds:0} ms, {Direction})"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Kind.ToString().ToLowerInvariant()}({Direction})"),
    };
}
