namespace Duplex.Benchmarks.Loopback;

/// <summary>Which direction of a metric is an improvement.</summary>
internal enum Better
{
    Higher,
    Lower,
}
