namespace Duplex.Benchmarks.Micro;

/// <summary>A small market-data style message for the JSON send path.</summary>
public sealed record Quote(string Symbol, double Bid, double Ask, long Sequence, DateTime Time);
