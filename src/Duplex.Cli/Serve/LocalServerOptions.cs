namespace Duplex.Cli.Serve;

/// <summary>How the local test server behaves; see <see cref="LocalServer"/>.</summary>
internal sealed class LocalServerOptions
{
    /// <summary>The port on 127.0.0.1; 0 lets the system choose a free one.</summary>
    public int Port { get; init; }

    /// <summary>Whether every connection first receives the handshake headers the server saw.</summary>
    public bool ReplyHeaders { get; init; }

    /// <summary>Drops (aborts, without a closing handshake) every connection after this long; infinite for never.</summary>
    public TimeSpan DropEvery { get; init; } = Timeout.InfiniteTimeSpan;

    /// <summary>Refuses every upgrade with this HTTP status; null to accept.</summary>
    public int? RejectStatus { get; init; }

    /// <summary>Whether to listen with TLS (<c>wss://</c>) and a generated self-signed certificate.</summary>
    public bool Tls { get; init; }

    /// <summary>How many messages the server pushes to every connection as soon as it opens.</summary>
    public int Push { get; init; }
}
