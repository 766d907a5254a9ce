using System.Buffers;
using System.Buffers.Binary;

namespace Duplex.Protocol;

/// <summary>
/// A frame header as laid out in RFC 6455 §5.2: FIN, RSV1–3, opcode, MASK, payload length in its 7-,
/// 16- or 64-bit form, and the masking key.
/// </summary>
internal readonly struct FrameHeader
{
    /// <summary>2 bytes of flags and length, 8 bytes of extended length, 4 bytes of mask.</summary>
    public const int MaxLength = 14;

    /// <summary>RFC 6455 §5.5: control frame payloads are at most 125 bytes.</summary>
    public const int MaxControlPayload = 125;

    /// <summary>Bit of RSV1 in <see cref="Rsv"/> (used by permessage-deflate, RFC 7692).</summary>
    public const byte Rsv1 = 0b100;

    public FrameHeader(bool fin, byte rsv, Opcode opcode, bool masked, int maskKey, long payloadLength)
    {
        Fin = fin;
        Rsv = rsv;
        Opcode = opcode;
        Masked = masked;
        MaskKey = maskKey;
        PayloadLength = payloadLength;
    }

    public bool Fin { get; }

    /// <summary>RSV1..RSV3 as three bits, RSV1 the most significant.</summary>
    public byte Rsv { get; }

    public Opcode Opcode { get; }

    public bool Masked { get; }

    /// <summary>The four mask bytes as they appear on the wire, read in machine byte order.</summary>
    public int MaskKey { get; }

    public long PayloadLength { get; }

    /// <summary>Length of a header for the given payload length.</summary>
    public static int GetLength(long payloadLength, bool masked) =>
        (payloadLength <= 125 ? 2 : payloadLength <= ushort.MaxValue ? 4 : 10) + (masked ? 4 : 0);

    /// <summary>
    /// Parses a header from the start of <paramref name="source"/>. Returns
    /// <see cref="OperationStatus.NeedMoreData"/> when the header is not complete yet and
    /// <see cref="OperationStatus.InvalidData"/> with a violation for a malformed length.
    /// </summary>
    public static OperationStatus TryRead(ReadOnlySpan<byte> source, out FrameHeader header, out int headerLength, out ProtocolViolation violation)
    {
        header = default;
        headerLength = 0;
        violation = default;
        if (source.Length < 2)
        {
            return OperationStatus.NeedMoreData;
        }

        byte b0 = source[0];
        byte b1 = source[1];
        bool masked = (b1 & 0x80) != 0;
        long length = b1 & 0x7F;
        int offset = 2;
        if (length == 126)
        {
            if (source.Length < 4)
            {
                return OperationStatus.NeedMoreData;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(2));
            offset = 4;

            // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
            if (length <= 125)
            {
                violation = ProtocolViolation.Protocol("A frame used the 16-bit length form for a payload of 125 bytes or fewer.");
                return OperationStatus.InvalidData;
            }
        }
        else if (length == 127)
        {
            if (source.Length < 10)
            {
                return OperationStatus.NeedMoreData;
            }

            ulong wide = BinaryPrimitives.ReadUInt64BigEndian(source.Slice(2));

            // RFC 6455 §5.2: "the most significant bit MUST be 0".
            if (wide > long.MaxValue)
            {
                violation = ProtocolViolation.Protocol("A frame declared a 64-bit payload length with the most significant bit set.");
                return OperationStatus.InvalidData;
            }

            length = (long)wide;
            offset = 10;
            if (length <= ushort.MaxValue)
            {
                violation = ProtocolViolation.Protocol("A frame used the 64-bit length form for a payload of 65535 bytes or fewer.");
                return OperationStatus.InvalidData;
            }
        }

        int maskKey = 0;
        if (masked)
        {
            if (source.Length < offset + 4)
            {
                return OperationStatus.NeedMoreData;
            }

            maskKey = BinaryPrimitives.ReadInt32LittleEndian(source.Slice(offset));
            offset += 4;
        }

        header = new FrameHeader((b0 & 0x80) != 0, (byte)((b0 >> 4) & 0x7), (Opcode)(b0 & 0xF), masked, maskKey, length);
        headerLength = offset;
        return OperationStatus.Done;
    }

    /// <summary>
    /// Writes a header with the minimal length encoding. <paramref name="maskKey"/> is written as
    /// it lies in memory (see <see cref="MaskKey"/>) when <paramref name="masked"/> is set.
    /// Returns the number of bytes written.
    /// </summary>
    public static int Write(Span<byte> destination, bool fin, byte rsv, Opcode opcode, long payloadLength, bool masked, int maskKey)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        destination[0] = (byte)((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | ((byte)opcode & 0xF));
        byte maskBit = masked ? (byte)0x80 : (byte)0;
        int offset;
        if (payloadLength <= 125)
        {
            destination[1] = (byte)(maskBit | (byte)payloadLength);
            offset = 2;
        }
        else if (payloadLength <= ushort.MaxValue)
        {
            destination[1] = (byte)(maskBit | 126);
            BinaryPrimitives.WriteUInt16BigEndian(destination.Slice(2), (ushort)payloadLength);
            offset = 4;
        }
        else
        {
            destination[1] = (byte)(maskBit | 127);
            BinaryPrimitives.WriteUInt64BigEndian(destination.Slice(2), (ulong)payloadLength);
            offset = 10;
        }

        if (masked)
        {
            BinaryPrimitives.WriteInt32LittleEndian(destination.Slice(offset), maskKey);
            offset += 4;
        }

        return offset;
    }
}
