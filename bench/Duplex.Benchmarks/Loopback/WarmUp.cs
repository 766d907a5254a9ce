namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// What an untimed warm-up runs: S1 and S2 messages, S3 and S4 round trips (zero skips a part). The
/// warm-up before the first repetition runs everything; a fresh client process
/// (<c>--process-per-client</c>) warms only the scenario it is about to time, so tiered JIT has
/// compiled that path again in the new process without paying for every other one.
/// </summary>
internal readonly record struct WarmUp(int Received, int Sent, int TextRoundTrips, int BinaryRoundTrips)
{
    public static WarmUp None => default;

    public bool IsNone => this == default;
}
