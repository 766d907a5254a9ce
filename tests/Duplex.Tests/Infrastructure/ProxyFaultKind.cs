namespace Duplex.Tests.Infrastructure;

/// <summary>What a <see cref="ProxyFault"/> does to a proxied connection.</summary>
public enum ProxyFaultKind
{
    /// <summary>Closes both sockets with linger 0: each peer receives a TCP RST.</summary>
    Reset,

    /// <summary>Shuts both sockets down gracefully: each peer reads the end of the stream (a FIN).</summary>
    Fin,

    /// <summary>Stops forwarding (the direction or both), keeping the sockets open: a silent link.</summary>
    Stall,

    /// <summary>Holds every byte for a fixed latency before forwarding it.</summary>
    Delay,

    /// <summary>Forwards a few bytes per interval: a link that crawls.</summary>
    Drip,

    /// <summary>Shuts one direction (its receiver reads a FIN; what its sender sends is discarded); the other goes on.</summary>
    HalfOpen,

    /// <summary>Undoes <see cref="Stall"/>, <see cref="Delay"/> and <see cref="Drip"/>.</summary>
    Heal,
}
