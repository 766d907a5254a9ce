using System.Buffers;
using System.Net.WebSockets;
using CsCheck;
using Duplex.Protocol;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Protocol;

/// <summary>
/// Arbitrary and mutated byte streams into the frame decoder and the header reader: whatever a
/// peer sends ends in events or in one violation with its close code, never in another exception
/// or unbounded work, and never depends on how the bytes were cut into reads.
/// </summary>
public sealed class FrameDecoderFuzzTests
{
    private static readonly WebSocketCloseStatus[] s_violationCodes =
        [WebSocketCloseStatus.ProtocolError, WebSocketCloseStatus.InvalidPayloadData, WebSocketCloseStatus.MessageTooBig];

    /// <summary>The decoder's settings: RSV1 allowed or not, and a message limit from tiny to the default.</summary>
    private static readonly Gen<(bool AllowRsv1, long MaxMessageSize)> s_settings =
        Gen.Select(Gen.Bool, Gen.OneOfConst(1L, 16L, 125L, DecoderFeed.DefaultMaxMessageSize));

    /// <summary>
    /// One frame's worth of noise: any first byte (biased to the defined opcodes), any mask bit and
    /// length form, minimal or not, declared lengths near every boundary, and a payload that may be
    /// shorter or longer than declared, so the next header starts anywhere.
    /// </summary>
    private static readonly Gen<byte[]> s_noisyFrame =
        from first in Gen.Frequency(
            (3, Gen.Select(Gen.Bool, Gen.OneOfConst(0x0, 0x1, 0x2, 0x8, 0x9, 0xA), (fin, opcode) => (byte)((fin ? 0x80 : 0) | opcode))),
            (1, Gen.Byte))
        from length in Gen.Frequency(
            (6, Gen.Long[0, 24]),
            (1, Gen.OneOfConst(1L, 2L, 125L, 126L, 127L, 65535L, 65536L, long.MaxValue)))
        from form in Gen.Frequency(
            (6, Gen.Const(FrameLengthEncoding.Minimal)),
            (1, Gen.OneOfConst(FrameLengthEncoding.SixteenBit, FrameLengthEncoding.SixtyFourBit)))
        from masked in Gen.Frequency((8, Gen.Const(false)), (1, Gen.Const(true)))
        from payload in Gen.Frequency(
            (3, Gen.Byte.Array[(int)Math.Min(length, 24)]),
            (2, Gen.Byte[0x20, 0x7e].Array[(int)Math.Min(length, 24)]),
            (1, Gen.Byte.Array[0, 30]))
        select Frame(first, length, form, masked, payload);

    /// <summary>Streams a peer could send by mistake or on purpose.</summary>
    private static readonly Gen<byte[]> s_arbitraryStream = Gen.Frequency(
        (2, Gen.Byte.Array[0, 64]),
        (3, s_noisyFrame.Array[1, 8].Select(frames => frames.SelectMany(f => f).ToArray())),
        (3, Mutations.Of(DecoderScenarios.Random.Select(s => s.Stream), maxLength: 1500)));

    [Fact]
    public void FrameDecoder_ArbitraryBytes_EndInEventsOrOneViolationWithItsCloseCode()
    {
        Gen.Select(s_arbitraryStream, s_settings).Sample((stream, settings) =>
        {
            DecodeTrace trace = DecoderFeed.Run(stream, Chunking.Whole, settings.MaxMessageSize, settings.AllowRsv1);

            if (trace.Violation is { } violation)
            {
                Assert.Contains(violation.CloseStatus, s_violationCodes);
                Assert.False(string.IsNullOrEmpty(violation.Message));
                Assert.Equal(DecoderEvent.Violation((int)violation.CloseStatus), trace.Events[^1]);
            }
        }, iter: 1500, print: Describe);
    }

    [Fact]
    public void FrameDecoder_ArbitraryBytes_FinishWithinOneCallPerByteAndPiece()
    {
        // Bounded work as a step count: every call that reports an item consumes at least a byte,
        // and NeedMoreData ends a piece, so N bytes in P pieces take at most N + P + 1 calls.
        Gen.Select(s_arbitraryStream, s_settings, Chunking.Random).Sample((stream, settings, sizes) =>
        {
            foreach (int[] chunking in (int[][])[Chunking.Whole, Chunking.ByteByByte, sizes])
            {
                DecodeTrace trace = DecoderFeed.Run(stream, chunking, settings.MaxMessageSize, settings.AllowRsv1);

                Assert.True(
                    trace.DecodeCalls <= stream.Length + trace.Pieces + 1,
                    $"{trace.DecodeCalls} calls for {stream.Length} bytes in {trace.Pieces} pieces");
            }
        }, iter: 300, print: Describe);
    }

    [Fact]
    public void FrameDecoder_ArbitraryBytes_DecodeTheSameWholeByteByByteAndInRandomChunks()
    {
        Gen.Select(s_arbitraryStream, s_settings, Chunking.Random, Gen.Bool).Sample((stream, settings, sizes, probe) =>
        {
            DecodeTrace whole = DecoderFeed.Run(stream, Chunking.Whole, settings.MaxMessageSize, settings.AllowRsv1);
            DecodeTrace byByte = DecoderFeed.Run(stream, Chunking.ByteByByte, settings.MaxMessageSize, settings.AllowRsv1, probeEmptyInput: probe);
            DecodeTrace chunked = DecoderFeed.Run(stream, sizes, settings.MaxMessageSize, settings.AllowRsv1, probeEmptyInput: probe);

            Assert.Equal(whole.Events, byByte.Events);
            Assert.Equal(whole.Events, chunked.Events);
            Assert.Equal(whole.Violation, byByte.Violation);
            Assert.Equal(whole.Violation, chunked.Violation);
        }, iter: 400, print: Describe);
    }

    [Fact]
    public void FrameDecoder_ArbitraryBytes_ReportOnlyValidTextAndCloseReasons()
    {
        // Whatever the stream, an uncompressed text message or a Close reason that gets through
        // is valid UTF-8 by the BCL's one-shot check, however the bytes were split.
        Gen.Select(s_arbitraryStream, Chunking.Random).Sample((stream, sizes) =>
        {
            DecodeTrace trace = DecoderFeed.Run(stream, sizes);

            foreach (string item in trace.Events)
            {
                if (item.StartsWith("text ", StringComparison.Ordinal) && !item.EndsWith(" rsv1", StringComparison.Ordinal))
                {
                    Assert.True(System.Text.Unicode.Utf8.IsValid(HexBytes.Parse(item["text ".Length..])), item);
                }
            }
        }, iter: 500, print: Describe);
    }

    [Fact]
    public void FrameHeader_ArbitraryBytes_ReadOnlyMinimalHeadersThatWriteBackByteForByte()
    {
        Gen<byte[]> headerBytes = Gen.Frequency(
            (2, Gen.Byte.Array[0, 16]),
            (3, Gen.Select(Gen.Byte, Gen.Bool, Gen.OneOfConst(0, 1, 125, 126, 127), Gen.Byte.Array[0, 14],
                (first, masked, length, rest) => (byte[])[first, (byte)((masked ? 0x80 : 0) | length), .. rest])));

        headerBytes.Sample(bytes =>
        {
            OperationStatus status = FrameHeader.TryRead(bytes, out FrameHeader header, out int headerLength, out ProtocolViolation violation);

            switch (status)
            {
                case OperationStatus.Done:
                    Assert.Equal(FrameHeader.GetLength(header.PayloadLength, header.Masked), headerLength);
                    Assert.InRange(headerLength, 2, Math.Min(bytes.Length, FrameHeader.MaxLength));
                    Span<byte> written = stackalloc byte[FrameHeader.MaxLength];
                    int length = FrameHeader.Write(written, header.Fin, header.Rsv, header.Opcode, header.PayloadLength, header.Masked, header.MaskKey);
                    Assert.Equal(HexBytes.Format(bytes.AsSpan(0, headerLength)), HexBytes.Format(written[..length]));
                    for (int prefix = 0; prefix < headerLength; prefix++)
                    {
                        Assert.Equal(OperationStatus.NeedMoreData, FrameHeader.TryRead(bytes.AsSpan(0, prefix), out _, out _, out _));
                    }

                    break;
                case OperationStatus.InvalidData:
                    Assert.Equal(WebSocketCloseStatus.ProtocolError, violation.CloseStatus);
                    Assert.False(string.IsNullOrEmpty(violation.Message));

                    // More bytes never make a malformed length well-formed.
                    byte[] longer = [.. bytes, 0x00, 0x00, 0x00, 0x00];
                    Assert.Equal(OperationStatus.InvalidData, FrameHeader.TryRead(longer, out _, out _, out _));
                    break;
                default:
                    Assert.Equal(OperationStatus.NeedMoreData, status);
                    Assert.InRange(bytes.Length, 0, FrameHeader.MaxLength - 1);
                    Assert.Equal(0, headerLength);
                    break;
            }
        }, iter: 3000, print: b => HexBytes.Format(b));
    }

    private static byte[] Frame(byte first, long length, FrameLengthEncoding form, bool masked, byte[] payload)
    {
        int opcode = first & 0xF;
        int rsv = (first >> 4) & 0x7;
        bool fin = (first & 0x80) != 0;
        form = form switch
        {
            FrameLengthEncoding.SixteenBit when length > ushort.MaxValue => FrameLengthEncoding.Minimal,
            _ => form,
        };
        byte[] header = new ServerStream().Header(fin, opcode, length, rsv, form, masked ? [0x37, 0xfa, 0x21, 0x3d] : null).ToArray();
        return [.. header, .. payload];
    }

    private static string Describe(byte[] stream) => $"{stream.Length} bytes: {HexBytes.Format(stream.AsSpan(0, Math.Min(stream.Length, 400)))}";

    private static string Describe((byte[] Stream, (bool, long) Settings) c) => $"{Describe(c.Stream)}; settings {c.Settings}";

    private static string Describe((byte[] Stream, (bool, long) Settings, int[] Sizes) c) =>
        $"{Describe(c.Stream)}; settings {c.Settings}; chunks [{string.Join(", ", c.Sizes)}]";

    private static string Describe((byte[] Stream, (bool, long) Settings, int[] Sizes, bool Probe) c) =>
        $"{Describe((c.Stream, c.Settings, c.Sizes))}; probe {c.Probe}";

    private static string Describe((byte[] Stream, int[] Sizes) c) => $"{Describe(c.Stream)}; chunks [{string.Join(", ", c.Sizes)}]";
}
