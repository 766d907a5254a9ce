using System.Buffers;
using System.Buffers.Binary;

namespace Duplex.Benchmarks.Server;

/// <summary>
/// The server's side of RFC 6455 framing, written here rather than borrowed from Duplex so the
/// server measures nothing of the library under test: unmasked frame headers (§5.2) and
/// pre-built runs of identical frames for the push endpoint.
/// </summary>
internal static class ServerFrames
{
    public const byte Text = 0x1;
    public const byte Binary = 0x2;
    public const byte Close = 0x8;
    public const byte Ping = 0x9;
    public const byte Pong = 0xA;

    /// <summary>Writes an unmasked header; returns its length (2, 4 or 10 bytes).</summary>
    public static int WriteHeader(Span<byte> destination, bool fin, byte opcode, long payloadLength)
    {
        destination[0] = (byte)((fin ? 0x80 : 0) | opcode);
        if (payloadLength <= 125)
        {
            destination[1] = (byte)payloadLength;
            return 2;
        }

        if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), (ushort)payloadLength);
            return 4;
        }

        destination[1] = 127;
        BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(2), (ulong)payloadLength);
        return 10;
    }

    /// <summary>Appends a whole unmasked frame to <paramref name="output"/>.</summary>
    public static void WriteFrame(IBufferWriter<byte> output, byte opcode, ReadOnlySpan<byte> payload)
    {
        Span<byte> header = output.GetSpan(10);
        int length = WriteHeader(header, fin: true, opcode, payload.Length);
        output.Advance(length);
        output.Write(payload);
    }

    /// <summary>
    /// A buffer of whole text frames of <paramref name="payloadSize"/> ASCII bytes each, as many as
    /// fit in about <paramref name="chunkBytes"/>; returns the buffer and the frame count.
    /// </summary>
    public static (byte[] Buffer, int Frames) BuildTextRun(int payloadSize, int chunkBytes)
    {
        Span<byte> header = stackalloc byte[10];
        int headerLength = WriteHeader(header, fin: true, Text, payloadSize);
        int frameLength = headerLength + payloadSize;
        int frames = Math.Max(1, chunkBytes / frameLength);
        byte[] buffer = new byte[frames * frameLength];
        for (int f = 0; f < frames; f++)
        {
            Span<byte> frame = buffer.AsSpan(f * frameLength, frameLength);
            header.Slice(0, headerLength).CopyTo(frame);
            for (int i = 0; i < payloadSize; i++)
            {
                frame[headerLength + i] = (byte)('a' + ((f + i) % 26));
            }
        }

        return (buffer, frames);
    }
}
