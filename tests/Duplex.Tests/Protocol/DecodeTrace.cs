using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

/// <summary>What a decoder made of a stream, as comparable strings.</summary>
/// <remarks>
/// Events: <c>text 48656c6c6f</c> / <c>binary …</c> for a reassembled message (<c>… rsv1</c> when
/// compressed), <c>ping …</c> / <c>pong …</c>, <c>close</c> or <c>close 1000 reason</c>,
/// <c>violation 1002</c>, and <c>incomplete</c> when the stream ended inside a frame or message.
/// </remarks>
internal sealed class DecodeTrace
{
    public List<string> Events { get; } = [];

    /// <summary>The piece of the stream (start, length) being decoded when the violation was reported.</summary>
    public (int Start, int Length)? ViolationPiece { get; set; }

    public ProtocolViolation? Violation { get; set; }

    /// <summary>How many times the stream was passed to <see cref="FrameDecoder.Decode"/> (empty probes not counted).</summary>
    public int DecodeCalls { get; set; }

    /// <summary>How many pieces the stream was cut into.</summary>
    public int Pieces { get; set; }

    public override string ToString() => string.Join(" | ", Events);
}
