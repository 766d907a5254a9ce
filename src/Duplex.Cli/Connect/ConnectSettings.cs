namespace Duplex.Cli.Connect;

/// <summary>What <c>duplex connect</c> was asked to do, as parsed from its command line.</summary>
internal sealed class ConnectSettings
{
    public required Uri Url { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public IReadOnlyList<string> SubProtocols { get; init; } = [];

    public bool Insecure { get; init; }

    public FileInfo? CaFile { get; init; }

    public FileInfo? CertificateFile { get; init; }

    public FileInfo? KeyFile { get; init; }

    public Uri? Proxy { get; init; }

    public TimeSpan? PingInterval { get; init; }

    public bool NoReconnect { get; init; }

    public bool Json { get; init; }

    /// <summary>How input lines become binary messages; null sends them as text.</summary>
    public BinaryFormat? Binary { get; init; }

    public bool JsonRpc { get; init; }

    /// <summary>After the input ends: how long to wait for messages (infinite until <see cref="Count"/> or the server closes).</summary>
    public TimeSpan Wait { get; init; }

    /// <summary>Exit after this many received messages; null for no limit.</summary>
    public int? Count { get; init; }

    /// <summary>Interactive even though standard input is redirected.</summary>
    public bool ForceInteractive { get; init; }

    /// <summary>Received messages only, as they are: no timestamp, no direction, no sent lines.</summary>
    public bool Raw { get; init; }

    public bool Verbose { get; init; }
}
