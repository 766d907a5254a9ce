using System.Buffers;

namespace Duplex.Benchmarks.Server;

/// <summary>
/// <c>/echo</c>: sends every data frame back as it arrives (same opcode and FIN, unmasked), piece by
/// piece, so a 1 MiB message streams back without being buffered whole.
/// </summary>
internal sealed class EchoSession : ServerSession
{
    public EchoSession(Stream stream)
        : base(stream, 64 * 1024)
    {
    }

    protected override void OnFrameStart(byte opcode, bool fin, long length)
    {
        Span<byte> header = Output.GetSpan(10);
        Output.Advance(ServerFrames.WriteHeader(header, fin, opcode, length));
    }

    protected override void OnPayload(ReadOnlySpan<byte> payload) => Output.Write(payload);

    protected override void OnFrameEnd(byte opcode, bool fin)
    {
    }
}
