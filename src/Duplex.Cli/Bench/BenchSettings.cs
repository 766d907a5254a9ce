namespace Duplex.Cli.Bench;

/// <summary>What <c>duplex bench</c> was asked to do.</summary>
internal sealed class BenchSettings
{
    public required Uri Url { get; init; }

    public int Connections { get; init; }

    /// <summary>Messages per connection.</summary>
    public int Messages { get; init; }

    /// <summary>Bytes per message.</summary>
    public int Size { get; init; }

    /// <summary>Messages per second over all connections; 0 for as fast as the server answers.</summary>
    public double Rate { get; init; }

    public TimeSpan Timeout { get; init; }

    public bool Insecure { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    public bool Json { get; init; }
}
