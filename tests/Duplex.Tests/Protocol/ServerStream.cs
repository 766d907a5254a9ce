using System.Buffers.Binary;
using System.Text;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Protocol;

/// <summary>
/// Builds the bytes a server sends, frame by frame. Headers are laid out here by hand from
/// RFC 6455 §5.2 rather than with the code under test, and may be malformed on purpose.
/// </summary>
internal sealed class ServerStream
{
    private readonly List<byte> _bytes = [];

    public int Length => _bytes.Count;

    public byte[] ToArray() => [.. _bytes];

    /// <summary>A header alone; its payload may follow, arrive later or never.</summary>
    public ServerStream Header(bool fin, int opcode, long payloadLength, int rsv = 0, FrameLengthEncoding form = FrameLengthEncoding.Minimal, byte[]? maskKey = null)
    {
        _bytes.Add((byte)((fin ? 0x80 : 0) | (rsv << 4) | opcode));
        int maskBit = maskKey is null ? 0 : 0x80;
        if (form == FrameLengthEncoding.Minimal)
        {
            form = payloadLength <= 125 ? FrameLengthEncoding.SevenBit
                : payloadLength <= ushort.MaxValue ? FrameLengthEncoding.SixteenBit
                : FrameLengthEncoding.SixtyFourBit;
        }

        Span<byte> length = stackalloc byte[8];
        switch (form)
        {
            case FrameLengthEncoding.SevenBit:
                _bytes.Add((byte)(maskBit | (int)payloadLength));
                break;
            case FrameLengthEncoding.SixteenBit:
                _bytes.Add((byte)(maskBit | 126));
                BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)payloadLength);
                _bytes.AddRange(length[..2]);
                break;
            default:
                _bytes.Add((byte)(maskBit | 127));
                BinaryPrimitives.WriteInt64BigEndian(length, payloadLength);
                _bytes.AddRange(length);
                break;
        }

        if (maskKey is not null)
        {
            _bytes.AddRange(maskKey);
        }

        return this;
    }

    public ServerStream Frame(bool fin, int opcode, ReadOnlySpan<byte> payload, int rsv = 0, FrameLengthEncoding form = FrameLengthEncoding.Minimal, byte[]? maskKey = null)
    {
        Header(fin, opcode, payload.Length, rsv, form, maskKey);
        for (int i = 0; i < payload.Length; i++)
        {
            _bytes.Add(maskKey is null ? payload[i] : (byte)(payload[i] ^ maskKey[i % 4]));
        }

        return this;
    }

    public ServerStream Text(string text, bool fin = true) => Frame(fin, 0x1, Encoding.UTF8.GetBytes(text));

    public ServerStream Text(byte[] payload, bool fin = true) => Frame(fin, 0x1, payload);

    public ServerStream Binary(byte[] payload, bool fin = true) => Frame(fin, 0x2, payload);

    public ServerStream Continuation(byte[] payload, bool fin) => Frame(fin, 0x0, payload);

    public ServerStream Continuation(string text, bool fin) => Frame(fin, 0x0, Encoding.UTF8.GetBytes(text));

    public ServerStream Ping(params byte[] payload) => Frame(true, 0x9, payload);

    public ServerStream Pong(params byte[] payload) => Frame(true, 0xA, payload);

    /// <summary>A Close frame with no body.</summary>
    public ServerStream Close() => Frame(true, 0x8, []);

    public ServerStream Close(int code, string reason)
    {
        byte[] payload = new byte[2 + Encoding.UTF8.GetByteCount(reason)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, (ushort)code);
        Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        return Frame(true, 0x8, payload);
    }

    /// <summary>Bytes as given, e.g. a hand-written frame.</summary>
    public ServerStream Raw(string hex)
    {
        _bytes.AddRange(HexBytes.Parse(hex));
        return this;
    }

    public ServerStream Raw(byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }
}
