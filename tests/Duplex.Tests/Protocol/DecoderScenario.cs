namespace Duplex.Tests.Protocol;

/// <summary>A server byte stream and the events a client decoder must make of it.</summary>
internal sealed record DecoderScenario(byte[] Stream, IReadOnlyList<string> Expected)
{
    public override string ToString() => $"{Stream.Length} bytes: {HexBytes.Format(Stream.AsSpan(0, Math.Min(Stream.Length, 400)))}";
}
