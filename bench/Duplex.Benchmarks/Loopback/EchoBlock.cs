namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// One timed block of S3 or S4 round trips: what the block cost the client process, and each round
/// trip's time in <see cref="System.Diagnostics.Stopwatch"/> ticks of the process that reads it.
/// </summary>
internal readonly record struct EchoBlock(Meter.Reading Reading, long[] Ticks);
