namespace Duplex.Tests.Infrastructure;

/// <summary>Which way bytes travel through a <see cref="FaultInjectingProxy"/> connection.</summary>
public enum ProxyDirection
{
    /// <summary>From the client that connected to the proxy towards the target server.</summary>
    ClientToServer,

    /// <summary>From the target server back to the client.</summary>
    ServerToClient,

    /// <summary>Both ways.</summary>
    Both,
}
