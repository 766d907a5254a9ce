using System.Buffers;
using System.Buffers.Binary;
using System.Net.WebSockets;
using CsCheck;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public sealed class FrameHeaderTests
{
    // The masking key of the RFC 6455 §5.7 examples, 37 fa 21 3d on the wire.
    private static readonly int s_rfcMaskKey = BinaryPrimitives.ReadInt32LittleEndian([0x37, 0xfa, 0x21, 0x3d]);

    /// <summary>Binary frames, FIN set, at every boundary of the 7-, 16- and 64-bit length forms (RFC 6455 §5.2).</summary>
    public static TheoryData<long, string> UnmaskedLengthVectors => new()
    {
        { 0, "82 00" },
        { 1, "82 01" },
        { 125, "82 7d" },
        { 126, "82 7e 00 7e" },
        { 127, "82 7e 00 7f" },
        { 65535, "82 7e ff ff" },
        { 65536, "82 7f 00 00 00 00 00 01 00 00" },
        { 1L << 32, "82 7f 00 00 00 01 00 00 00 00" },
        { long.MaxValue, "82 7f 7f ff ff ff ff ff ff ff" },
    };

    /// <summary>The same lengths with the MASK bit and the key 37 fa 21 3d.</summary>
    public static TheoryData<long, string> MaskedLengthVectors => new()
    {
        { 0, "82 80 37 fa 21 3d" },
        { 1, "82 81 37 fa 21 3d" },
        { 125, "82 fd 37 fa 21 3d" },
        { 126, "82 fe 00 7e 37 fa 21 3d" },
        { 127, "82 fe 00 7f 37 fa 21 3d" },
        { 65535, "82 fe ff ff 37 fa 21 3d" },
        { 65536, "82 ff 00 00 00 00 00 01 00 00 37 fa 21 3d" },
        { 1L << 32, "82 ff 00 00 00 01 00 00 00 00 37 fa 21 3d" },
        { long.MaxValue, "82 ff 7f ff ff ff ff ff ff ff 37 fa 21 3d" },
    };

    public static TheoryData<string> AllValidVectors
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (object[] row in UnmaskedLengthVectors.Concat(MaskedLengthVectors))
            {
                data.Add((string)row[1]);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(UnmaskedLengthVectors))]
    public void FrameHeader_Write_UsesMinimalLengthEncoding(long length, string expected)
    {
        Span<byte> buffer = stackalloc byte[FrameHeader.MaxLength];
        int written = FrameHeader.Write(buffer, fin: true, rsv: 0, Opcode.Binary, length, masked: false, maskKey: 0);

        Assert.Equal(expected, Spaced(buffer[..written]));
        Assert.Equal(written, FrameHeader.GetLength(length, masked: false));
    }

    [Theory]
    [MemberData(nameof(MaskedLengthVectors))]
    public void FrameHeader_Write_Masked_AppendsKeyInWireOrder(long length, string expected)
    {
        Span<byte> buffer = stackalloc byte[FrameHeader.MaxLength];
        int written = FrameHeader.Write(buffer, fin: true, rsv: 0, Opcode.Binary, length, masked: true, s_rfcMaskKey);

        Assert.Equal(expected, Spaced(buffer[..written]));
        Assert.Equal(written, FrameHeader.GetLength(length, masked: true));
    }

    [Theory]
    [MemberData(nameof(UnmaskedLengthVectors))]
    public void FrameHeader_Read_Unmasked_DecodesEveryLengthForm(long length, string vector)
    {
        byte[] bytes = HexBytes.Parse(vector);

        OperationStatus status = FrameHeader.TryRead(bytes, out FrameHeader header, out int headerLength, out _);

        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(bytes.Length, headerLength);
        Assert.True(header.Fin);
        Assert.Equal(0, header.Rsv);
        Assert.Equal(Opcode.Binary, header.Opcode);
        Assert.False(header.Masked);
        Assert.Equal(0, header.MaskKey);
        Assert.Equal(length, header.PayloadLength);
    }

    [Theory]
    [MemberData(nameof(MaskedLengthVectors))]
    public void FrameHeader_Read_Masked_DecodesLengthAndKey(long length, string vector)
    {
        byte[] bytes = HexBytes.Parse(vector);

        OperationStatus status = FrameHeader.TryRead(bytes, out FrameHeader header, out int headerLength, out _);

        Assert.Equal(OperationStatus.Done, status);
        Assert.Equal(bytes.Length, headerLength);
        Assert.True(header.Masked);
        Assert.Equal(s_rfcMaskKey, header.MaskKey);
        Assert.Equal(length, header.PayloadLength);
    }

    [Theory]
    [MemberData(nameof(AllValidVectors))]
    public void FrameHeader_Read_EveryTruncatedPrefix_NeedsMoreData(string vector)
    {
        byte[] bytes = HexBytes.Parse(vector);
        for (int length = 0; length < bytes.Length; length++)
        {
            OperationStatus status = FrameHeader.TryRead(bytes.AsSpan(0, length), out _, out int headerLength, out _);

            Assert.True(status == OperationStatus.NeedMoreData, $"prefix of {length} bytes gave {status}");
            Assert.Equal(0, headerLength);
        }
    }

    [Theory]
    [MemberData(nameof(AllValidVectors))]
    public void FrameHeader_Read_IgnoresBytesAfterTheHeader(string vector)
    {
        byte[] header = HexBytes.Parse(vector);
        byte[] withPayload = [.. header, 0xde, 0xad, 0xbe, 0xef, 0x00];

        Assert.Equal(OperationStatus.Done, FrameHeader.TryRead(withPayload, out FrameHeader read, out int headerLength, out _));
        Assert.Equal(header.Length, headerLength);
        Assert.Equal(OperationStatus.Done, FrameHeader.TryRead(header, out FrameHeader alone, out _, out _));
        Assert.Equal(alone.PayloadLength, read.PayloadLength);
    }

    [Theory]
    [InlineData("82 7e 00 00")]
    [InlineData("82 7e 00 01")]
    [InlineData("82 7e 00 7d")]
    [InlineData("82 fe 00 7d 37 fa 21 3d")]
    public void FrameHeader_Read_SixteenBitFormForShortPayload_IsProtocolError(string vector)
    {
        AssertProtocolError(HexBytes.Parse(vector));
    }

    [Theory]
    [InlineData("82 7f 00 00 00 00 00 00 00 00")]
    [InlineData("82 7f 00 00 00 00 00 00 00 7d")]
    [InlineData("82 7f 00 00 00 00 00 00 00 7e")]
    [InlineData("82 7f 00 00 00 00 00 00 ff ff")]
    [InlineData("82 ff 00 00 00 00 00 00 ff ff 37 fa 21 3d")]
    public void FrameHeader_Read_SixtyFourBitFormForPayloadUpTo65535_IsProtocolError(string vector)
    {
        AssertProtocolError(HexBytes.Parse(vector));
    }

    [Theory]
    [InlineData("82 7f 80 00 00 00 00 00 00 00")]
    [InlineData("82 7f 80 00 00 00 00 01 00 00")]
    [InlineData("82 7f ff ff ff ff ff ff ff ff")]
    [InlineData("82 ff 80 00 00 00 00 00 00 00 37 fa 21 3d")]
    public void FrameHeader_Read_SixtyFourBitLengthWithMostSignificantBitSet_IsProtocolError(string vector)
    {
        AssertProtocolError(HexBytes.Parse(vector));
    }

    [Theory]
    [InlineData("82 fe 00 7d")]
    [InlineData("82 ff 00 00 00 00 00 00 ff ff")]
    [InlineData("82 ff 80 00 00 00 00 00 00 00")]
    public void FrameHeader_Read_MalformedLength_FailsBeforeTheMaskKeyArrives(string vector)
    {
        AssertProtocolError(HexBytes.Parse(vector));
    }

    [Theory]
    [InlineData("82 7e 00")]
    [InlineData("82 7f 80 00 00 00 00 00 00")]
    [InlineData("82 7f 00 00 00 00 00 00 00")]
    public void FrameHeader_Read_LengthFieldIncomplete_NeedsMoreDataEvenIfItWillBeInvalid(string vector)
    {
        Assert.Equal(OperationStatus.NeedMoreData, FrameHeader.TryRead(HexBytes.Parse(vector), out _, out _, out _));
    }

    [Fact]
    public void FrameHeader_WriteThenRead_RoundTripsEveryFinRsvAndOpcodeCombination()
    {
        Span<byte> buffer = stackalloc byte[FrameHeader.MaxLength];
        foreach (bool fin in new[] { false, true })
        {
            for (byte rsv = 0; rsv < 8; rsv++)
            {
                for (int opcode = 0; opcode < 16; opcode++)
                {
                    int written = FrameHeader.Write(buffer, fin, rsv, (Opcode)opcode, 5, masked: false, maskKey: 0);

                    Assert.Equal((fin ? 0x80 : 0) | (rsv << 4) | opcode, buffer[0]);
                    Assert.Equal(OperationStatus.Done, FrameHeader.TryRead(buffer[..written], out FrameHeader header, out _, out _));
                    Assert.Equal(fin, header.Fin);
                    Assert.Equal(rsv, header.Rsv);
                    Assert.Equal((Opcode)opcode, header.Opcode);
                }
            }
        }
    }

    [Theory]
    [InlineData("c1 00", true, FrameHeader.Rsv1, 0x1)]
    [InlineData("a2 00", true, 0b010, 0x2)]
    [InlineData("10 00", false, 0b001, 0x0)]
    [InlineData("f9 00", true, 0b111, 0x9)]
    [InlineData("0f 00", false, 0, 0xf)]
    [InlineData("83 00", true, 0, 0x3)]
    public void FrameHeader_Read_ReportsRsvBitsAndOpcodeAsSent(string vector, bool fin, byte rsv, int opcode)
    {
        Assert.Equal(OperationStatus.Done, FrameHeader.TryRead(HexBytes.Parse(vector), out FrameHeader header, out _, out _));
        Assert.Equal(fin, header.Fin);
        Assert.Equal(rsv, header.Rsv);
        Assert.Equal((Opcode)opcode, header.Opcode);
    }

    [Fact]
    public void FrameHeader_WriteThenRead_RoundTripsAnyHeader()
    {
        Gen<long> length = Gen.Frequency(
            (3, Gen.Long[0, 125]),
            (2, Gen.Long[126, ushort.MaxValue]),
            (2, Gen.Long[ushort.MaxValue + 1L, long.MaxValue]),
            (1, Gen.OneOfConst(0L, 125L, 126L, 65535L, 65536L, long.MaxValue)));
        Gen<(bool, byte, int, bool, int, long)> headers = Gen.Select(
            Gen.Bool, Gen.Byte[0, 7], Gen.Int[0, 15], Gen.Bool, Gen.Int, length);

        headers.Sample((fin, rsv, opcode, masked, maskKey, payloadLength) =>
        {
            // Trailing bytes after the header must not be read.
            Span<byte> buffer = stackalloc byte[FrameHeader.MaxLength + 3];
            buffer.Fill(0xa5);
            int written = FrameHeader.Write(buffer, fin, rsv, (Opcode)opcode, payloadLength, masked, maskKey);

            Assert.Equal(FrameHeader.GetLength(payloadLength, masked), written);
            Assert.Equal(OperationStatus.Done, FrameHeader.TryRead(buffer, out FrameHeader header, out int headerLength, out _));
            Assert.Equal(written, headerLength);
            Assert.Equal(fin, header.Fin);
            Assert.Equal(rsv, header.Rsv);
            Assert.Equal((Opcode)opcode, header.Opcode);
            Assert.Equal(masked, header.Masked);
            Assert.Equal(masked ? maskKey : 0, header.MaskKey);
            Assert.Equal(payloadLength, header.PayloadLength);
        }, iter: 2000);
    }

    [Theory]
    [InlineData(0, false, 2)]
    [InlineData(125, false, 2)]
    [InlineData(126, false, 4)]
    [InlineData(65535, false, 4)]
    [InlineData(65536, false, 10)]
    [InlineData(long.MaxValue, false, 10)]
    [InlineData(0, true, 6)]
    [InlineData(126, true, 8)]
    [InlineData(65536, true, 14)]
    public void FrameHeader_GetLength_CountsLengthFormAndMask(long payloadLength, bool masked, int expected)
    {
        Assert.Equal(expected, FrameHeader.GetLength(payloadLength, masked));
    }

    [Fact]
    public void FrameHeader_Write_NegativeLength_Throws()
    {
        byte[] buffer = new byte[FrameHeader.MaxLength];

        Assert.Throws<ArgumentOutOfRangeException>(() =>
            FrameHeader.Write(buffer, fin: true, rsv: 0, Opcode.Binary, -1, masked: false, maskKey: 0));
    }

    // RFC 6455 §5.7 examples. The payload bytes follow the header in the vector.
    [Theory]
    [InlineData("81 05 48 65 6c 6c 6f", true, 0x1, false, 5, 2)]
    [InlineData("81 85 37 fa 21 3d 7f 9f 4d 51 58", true, 0x1, true, 5, 6)]
    [InlineData("01 03 48 65 6c", false, 0x1, false, 3, 2)]
    [InlineData("80 02 6c 6f", true, 0x0, false, 2, 2)]
    [InlineData("89 05 48 65 6c 6c 6f", true, 0x9, false, 5, 2)]
    [InlineData("8a 85 37 fa 21 3d 7f 9f 4d 51 58", true, 0xa, true, 5, 6)]
    [InlineData("82 7e 01 00", true, 0x2, false, 256, 4)]
    [InlineData("82 7f 00 00 00 00 00 01 00 00", true, 0x2, false, 65536, 10)]
    public void FrameHeader_Rfc6455Examples_ReadAndWriteByteExact(string vector, bool fin, int opcode, bool masked, long payloadLength, int headerLength)
    {
        byte[] bytes = HexBytes.Parse(vector);

        Assert.Equal(OperationStatus.Done, FrameHeader.TryRead(bytes, out FrameHeader header, out int read, out _));
        Assert.Equal(headerLength, read);
        Assert.Equal(fin, header.Fin);
        Assert.Equal((Opcode)opcode, header.Opcode);
        Assert.Equal(masked, header.Masked);
        Assert.Equal(payloadLength, header.PayloadLength);
        if (masked)
        {
            Assert.Equal(s_rfcMaskKey, header.MaskKey);
        }

        Span<byte> buffer = stackalloc byte[FrameHeader.MaxLength];
        int written = FrameHeader.Write(buffer, fin, 0, (Opcode)opcode, payloadLength, masked, masked ? s_rfcMaskKey : 0);
        Assert.Equal(HexBytes.Format(bytes.AsSpan(0, headerLength)), HexBytes.Format(buffer[..written]));
    }

    private static void AssertProtocolError(byte[] bytes)
    {
        OperationStatus status = FrameHeader.TryRead(bytes, out _, out _, out ProtocolViolation violation);

        Assert.Equal(OperationStatus.InvalidData, status);
        Assert.Equal(WebSocketCloseStatus.ProtocolError, violation.CloseStatus);
        Assert.False(string.IsNullOrEmpty(violation.Message));
    }

    private static string Spaced(ReadOnlySpan<byte> bytes) =>
        string.Join(' ', bytes.ToArray().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
}
