namespace Duplex.Cli.Bench;

/// <summary>The outcome of a benchmark, as the final table and <c>--json</c> show it.</summary>
internal sealed record BenchReport(
    string Url,
    int Connections,
    int MessagesPerConnection,
    int Size,
    double Rate,
    long Completed,
    long Errors,
    double ElapsedSeconds,
    double MessagesPerSecond,
    double MegabytesPerSecond,
    LatencySummary LatencyMs);
