using CsCheck;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Protocol;

public sealed class FrameDecoderViolationTests
{
    private const int ProtocolError = 1002;
    private const int InvalidPayloadData = 1007;
    private const int MessageTooBig = 1009;

    /// <summary>
    /// A stream that breaks a rule. <paramref name="FailAt"/> is the index of the byte whose arrival
    /// must trigger the violation; <paramref name="Before"/> are the events expected before it.
    /// </summary>
    private sealed record ViolationCase(byte[] Stream, int Code, int FailAt, string[] Before, long MaxMessageSize = DecoderFeed.DefaultMaxMessageSize, bool AllowRsv1 = false);

    private static readonly Dictionary<string, ViolationCase> s_cases = BuildCases();

    public static TheoryData<string> Cases => new(s_cases.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void FrameDecoder_Violation_FedWhole_ReportsTheCloseCode(string name)
    {
        ViolationCase c = s_cases[name];

        DecodeTrace trace = Run(c, Chunking.Whole);

        Assert.Equal([.. c.Before, DecoderEvent.Violation(c.Code)], trace.Events);
        Assert.False(string.IsNullOrEmpty(trace.Violation!.Value.Message));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FrameDecoder_Violation_FedByteByByte_ReportedOnTheOffendingByte(string name)
    {
        ViolationCase c = s_cases[name];

        DecodeTrace trace = Run(c, Chunking.ByteByByte);

        Assert.Equal([.. c.Before, DecoderEvent.Violation(c.Code)], trace.Events);
        Assert.Equal(c.FailAt, trace.ViolationPiece!.Value.Start);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FrameDecoder_Violation_FedInRandomChunks_ReportedInTheChunkHoldingTheOffendingByte(string name)
    {
        ViolationCase c = s_cases[name];

        Chunking.Random.Sample(sizes =>
        {
            DecodeTrace trace = Run(c, sizes);

            Assert.Equal([.. c.Before, DecoderEvent.Violation(c.Code)], trace.Events);
            (int start, int length) = trace.ViolationPiece!.Value;
            Assert.InRange(c.FailAt, start, start + length - 1);
        }, iter: 30, print: sizes => $"chunks [{string.Join(", ", sizes)}]");
    }

    [Fact]
    public void FrameDecoder_Violation_EveryReservedOpcodeIsCovered()
    {
        foreach (int opcode in (int[])[3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
        {
            Assert.Contains($"reserved opcode {opcode}", s_cases.Keys);
        }
    }

    private static DecodeTrace Run(ViolationCase c, int[] sizes) =>
        DecoderFeed.Run(c.Stream, sizes, c.MaxMessageSize, c.AllowRsv1);

    private static Dictionary<string, ViolationCase> BuildCases()
    {
        byte[] a50 = new byte[50];
        Array.Fill(a50, (byte)'a');
        var cases = new Dictionary<string, ViolationCase>
        {
            // RFC 6455 §5.1: a client fails the connection on a masked frame.
            ["masked text (RFC 6455 §5.7 masked Hello)"] = new(HexBytes.Parse("81 85 37 fa 21 3d 7f 9f 4d 51 58"), ProtocolError, 5, []),
            ["masked pong (RFC 6455 §5.7)"] = new(HexBytes.Parse("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), ProtocolError, 5, []),
            ["masked empty ping"] = new(HexBytes.Parse("89 80 00 00 00 00"), ProtocolError, 5, []),
            ["masked frame with 16-bit length"] = new(new ServerStream().Frame(true, 0x2, new byte[200], maskKey: [1, 2, 3, 4]).ToArray(), ProtocolError, 7, []),
            ["masked frame with 64-bit length (14-byte header)"] = new(new ServerStream().Header(true, 0x2, 70_000, maskKey: [1, 2, 3, 4]).ToArray(), ProtocolError, 13, []),

            ["reserved opcode inside a fragmented message"] = new(HexBytes.Parse("01 01 41 83 00"), ProtocolError, 4, []),

            // RFC 6455 §5.2: RSV bits without a negotiated extension.
            ["RSV1 without extension"] = new(HexBytes.Parse("c1 01 41"), ProtocolError, 1, []),
            ["RSV2 without extension"] = new(HexBytes.Parse("a1 01 41"), ProtocolError, 1, []),
            ["RSV3 without extension"] = new(HexBytes.Parse("91 01 41"), ProtocolError, 1, []),
            ["RSV1 on a ping without extension"] = new(HexBytes.Parse("c9 00"), ProtocolError, 1, []),
            ["RSV1 on a later message without extension"] = new(HexBytes.Parse("82 01 00 c2 01 00"), ProtocolError, 4, [DecoderEvent.Binary([0x00])]),

            // RFC 7692 §6: with permessage-deflate, RSV1 only on the first frame of a data message.
            ["RSV1 on a continuation with extension"] = new(HexBytes.Parse("41 01 41 c0 01 42"), ProtocolError, 4, [], AllowRsv1: true),
            ["RSV1 on a ping with extension"] = new(HexBytes.Parse("c9 00"), ProtocolError, 1, [], AllowRsv1: true),
            ["RSV1 on a close with extension"] = new(HexBytes.Parse("c8 02 03 e8"), ProtocolError, 1, [], AllowRsv1: true),
            ["RSV2 with extension"] = new(HexBytes.Parse("a1 01 41"), ProtocolError, 1, [], AllowRsv1: true),
            ["RSV3 with extension"] = new(HexBytes.Parse("92 01 41"), ProtocolError, 1, [], AllowRsv1: true),
            ["RSV1 and RSV2 with extension"] = new(HexBytes.Parse("e1 01 41"), ProtocolError, 1, [], AllowRsv1: true),

            // RFC 6455 §5.5: control frames are at most 125 bytes and never fragmented.
            ["ping of 126 bytes"] = new(new ServerStream().Ping(new byte[126]).ToArray(), ProtocolError, 3, []),
            ["pong of 65536 bytes"] = new(new ServerStream().Header(true, 0xA, 65536).ToArray(), ProtocolError, 9, []),
            ["close of 126 bytes"] = new(new ServerStream().Close(1000, new string('r', 124)).ToArray(), ProtocolError, 3, []),
            ["fragmented ping"] = new(HexBytes.Parse("09 00"), ProtocolError, 1, []),
            ["fragmented pong"] = new(HexBytes.Parse("0a 01 00"), ProtocolError, 1, []),
            ["fragmented close"] = new(HexBytes.Parse("08 02 03 e8"), ProtocolError, 1, []),
            ["fragmented ping inside a fragmented message"] = new(HexBytes.Parse("01 01 41 09 00 80 00"), ProtocolError, 4, []),

            // RFC 6455 §5.4: fragments of one message are not interleaved with another message.
            ["continuation with no message"] = new(HexBytes.Parse("80 01 41"), ProtocolError, 1, []),
            ["non-final continuation with no message"] = new(HexBytes.Parse("00 00"), ProtocolError, 1, []),
            ["continuation after a finished message"] = new(HexBytes.Parse("81 01 41 80 01 42"), ProtocolError, 4, [DecoderEvent.Text("A")]),
            ["text during a fragmented text"] = new(HexBytes.Parse("01 01 41 81 01 42"), ProtocolError, 4, []),
            ["binary during a fragmented text"] = new(HexBytes.Parse("01 01 41 02 01 42"), ProtocolError, 4, []),
            ["text during a fragmented binary after a ping"] = new(HexBytes.Parse("02 01 41 89 00 81 01 42"), ProtocolError, 6, [DecoderEvent.Ping([])]),

            // RFC 6455 §5.2: minimal length encoding, and the 64-bit length's top bit clear.
            ["16-bit length form for 125 bytes"] = new(HexBytes.Parse("82 7e 00 7d"), ProtocolError, 3, []),
            ["64-bit length form for 65535 bytes"] = new(HexBytes.Parse("82 7f 00 00 00 00 00 00 ff ff"), ProtocolError, 9, []),
            ["64-bit length with the top bit set"] = new(HexBytes.Parse("82 7f 80 00 00 00 00 00 00 00"), ProtocolError, 9, []),
            ["16-bit length form on a ping"] = new(new ServerStream().Header(true, 0x9, 5, form: FrameLengthEncoding.SixteenBit).ToArray(), ProtocolError, 3, []),

            // RFC 6455 §8.1: text must be UTF-8, failing as soon as it cannot be.
            ["overlong C0 80 in one frame"] = new(HexBytes.Parse("81 02 c0 80"), InvalidPayloadData, 2, []),
            ["overlong E0 80 fails on its second byte"] = new(HexBytes.Parse("81 03 e0 80 80"), InvalidPayloadData, 3, []),
            ["surrogate ED A0 fails on its second byte"] = new(HexBytes.Parse("81 03 ed a0 80"), InvalidPayloadData, 3, []),
            ["above U+10FFFF F4 90 fails on its second byte"] = new(HexBytes.Parse("81 04 f4 90 80 80"), InvalidPayloadData, 3, []),
            ["text ending inside a character"] = new(HexBytes.Parse("81 02 e2 82"), InvalidPayloadData, 3, []),
            ["bad continuation across fragments"] = new(HexBytes.Parse("01 01 e2 80 01 41"), InvalidPayloadData, 5, []),
            ["surrogate split across fragments with a ping between"] = new(HexBytes.Parse("01 01 ed 89 00 80 02 a0 80"), InvalidPayloadData, 7, [DecoderEvent.Ping([])]),
            ["first fragment already invalid"] = new(HexBytes.Parse("01 03 41 c0 41 80 01 41"), InvalidPayloadData, 3, []),
            ["first fragment invalid before its frame ends"] = new(new ServerStream().Text([0x41, 0xff, .. new byte[300]], fin: false).ToArray(), InvalidPayloadData, 5, []),
            ["message ending inside a character with an empty final fragment"] = new(HexBytes.Parse("01 01 e2 80 00"), InvalidPayloadData, 4, []),
            ["message ending inside a character across fragments"] = new(HexBytes.Parse("01 02 41 f0 00 01 9f 80 01 98"), InvalidPayloadData, 9, []),
            ["invalid text after a valid one"] = new(HexBytes.Parse("81 01 41 81 01 ff"), InvalidPayloadData, 5, [DecoderEvent.Text("A")]),
            ["κόσμε then a surrogate (Autobahn 6.3.1)"] = new(
                new ServerStream().Text(HexBytes.Parse("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64")).ToArray(), InvalidPayloadData, 14, []),
            ["κόσμε then U+110000 in fragments (Autobahn 6.4.2)"] = new(
                new ServerStream()
                    .Text(HexBytes.Parse("ce ba e1 bd b9 cf 83 ce bc ce b5 f4"), fin: false)
                    .Continuation(HexBytes.Parse("90"), fin: false)
                    .Continuation(HexBytes.Parse("80 80 65 64 69 74 65 64"), fin: true)
                    .ToArray(),
                InvalidPayloadData, 16, []),

            // RFC 6455 §5.5.1, §7.4: Close payloads.
            ["close with a one-byte payload"] = new(HexBytes.Parse("88 01 03"), ProtocolError, 2, []),
            ["close with code 0"] = new(HexBytes.Parse("88 02 00 00"), ProtocolError, 3, []),
            ["close with code 999"] = new(HexBytes.Parse("88 02 03 e7"), ProtocolError, 3, []),
            ["close with code 1004"] = new(HexBytes.Parse("88 02 03 ec"), ProtocolError, 3, []),
            ["close with code 1005"] = new(HexBytes.Parse("88 02 03 ed"), ProtocolError, 3, []),
            ["close with code 1006"] = new(HexBytes.Parse("88 02 03 ee"), ProtocolError, 3, []),
            ["close with code 1015"] = new(HexBytes.Parse("88 02 03 f7"), ProtocolError, 3, []),
            ["close with code 2999"] = new(HexBytes.Parse("88 02 0b b7"), ProtocolError, 3, []),
            ["close with code 5000"] = new(HexBytes.Parse("88 02 13 88"), ProtocolError, 3, []),
            ["close with code 1005 and a reason"] = new(HexBytes.Parse("88 05 03 ed 62 79 65"), ProtocolError, 6, []),
            ["close reason not UTF-8"] = new(HexBytes.Parse("88 04 03 e8 c0 80"), InvalidPayloadData, 5, []),
            ["close reason ending inside a character"] = new(HexBytes.Parse("88 05 03 e8 41 e2 82"), InvalidPayloadData, 6, []),
            ["close reason with a surrogate"] = new(HexBytes.Parse("88 05 03 e8 ed a0 80"), InvalidPayloadData, 6, []),
            ["close with invalid code between fragments"] = new(HexBytes.Parse("01 01 41 88 02 03 ed"), ProtocolError, 6, []),

            // The message size limit is enforced from the header, before any payload arrives.
            ["one frame over the limit, 7-bit length"] = new(HexBytes.Parse("82 65"), MessageTooBig, 1, [], MaxMessageSize: 100),
            ["one text frame over the limit, 16-bit length"] = new(HexBytes.Parse("81 7e 01 00"), MessageTooBig, 3, [], MaxMessageSize: 100),
            ["one frame over the limit, 64-bit length"] = new(HexBytes.Parse("82 7f 00 00 00 00 00 01 00 00"), MessageTooBig, 9, [], MaxMessageSize: 100),
            ["one frame of 2^62 bytes over the default limit"] = new(HexBytes.Parse("82 7f 40 00 00 00 00 00 00 00"), MessageTooBig, 9, []),
            ["non-final first fragment over the limit"] = new(HexBytes.Parse("01 65"), MessageTooBig, 1, [], MaxMessageSize: 100),
            ["fragments over the limit"] = new(
                new ServerStream().Binary(new byte[60], fin: false).Header(true, 0x0, 41).ToArray(), MessageTooBig, 63, [], MaxMessageSize: 100),
            ["fragments over the limit with a ping between"] = new(
                new ServerStream().Text(a50, fin: false).Ping().Continuation(a50, fin: false).Header(true, 0x0, 1).ToArray(),
                MessageTooBig, 107, [DecoderEvent.Ping([])], MaxMessageSize: 100),
            ["first fragment of 2^63-1 bytes over the default limit"] = new(
                new ServerStream().Header(false, 0x2, long.MaxValue).Header(true, 0x0, long.MaxValue).ToArray(), MessageTooBig, 9, []),
        };

        foreach (int opcode in (int[])[3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
        {
            cases[$"reserved opcode {opcode}"] = new([(byte)(0x80 | opcode), 0x00], ProtocolError, 1, []);
        }

        return cases;
    }
}
