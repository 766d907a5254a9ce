using BenchmarkDotNet.Attributes;
using Duplex.Protocol;

namespace Duplex.Benchmarks.Micro;

/// <summary>
/// Streaming UTF-8 validation (RFC 6455 §8.1) with <c>Utf8Validator</c>, fed whole or in 1 KiB
/// pieces, against the BCL's one-shot <see cref="System.Text.Unicode.Utf8.IsValid(ReadOnlySpan{byte})"/>.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class Utf8ValidationBenchmarks
{
    private const int Piece = 1024;
    private byte[] _data = [];

    public enum TextKind
    {
        Ascii,
        Multibyte,
    }

    [Params(TextKind.Ascii, TextKind.Multibyte)]
    public TextKind Kind { get; set; }

    [Params(64, 65536)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup() => _data = Kind == TextKind.Ascii ? Utf8Payloads.Ascii(Size) : Utf8Payloads.Multibyte(Size);

    [Benchmark(Baseline = true)]
    public bool BclIsValid() => System.Text.Unicode.Utf8.IsValid(_data);

    [Benchmark]
    public bool ValidatorWhole()
    {
        var validator = default(Utf8Validator);
        return validator.Append(_data, isFinal: true);
    }

    [Benchmark]
    public bool ValidatorIn1KiBPieces()
    {
        var validator = default(Utf8Validator);
        ReadOnlySpan<byte> rest = _data;
        while (rest.Length > Piece)
        {
            if (!validator.Append(rest.Slice(0, Piece), isFinal: false))
            {
                return false;
            }

            rest = rest.Slice(Piece);
        }

        return validator.Append(rest, isFinal: true);
    }
}
