using System.Net.WebSockets;
using CsCheck;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public sealed class FrameDecoderTests
{
    public static TheoryData<string> Scenarios => DecoderScenarios.Names;

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void FrameDecoder_FedWhole_ReportsTheExpectedEvents(string scenario)
    {
        DecoderScenario s = DecoderScenarios.Named[scenario];

        Assert.Equal(s.Expected, DecoderFeed.Run(s.Stream, Chunking.Whole).Events);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void FrameDecoder_FedByteByByte_ReportsTheSameEvents(string scenario)
    {
        DecoderScenario s = DecoderScenarios.Named[scenario];

        Assert.Equal(s.Expected, DecoderFeed.Run(s.Stream, Chunking.ByteByByte, probeEmptyInput: true).Events);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void FrameDecoder_FedInRandomChunks_ReportsTheSameEvents(string scenario)
    {
        DecoderScenario s = DecoderScenarios.Named[scenario];

        Gen.Select(Chunking.Random, Gen.Bool).Sample((sizes, probe) =>
        {
            Assert.Equal(s.Expected, DecoderFeed.Run(s.Stream, sizes, probeEmptyInput: probe).Events);
        }, iter: 40, print: c => $"chunks [{string.Join(", ", c.Item1)}]");
    }

    [Fact]
    public void FrameDecoder_RandomValidStreams_DecodeTheSameWholeByteByByteAndInRandomChunks()
    {
        Gen.Select(DecoderScenarios.Random, Chunking.Random).Sample((scenario, sizes) =>
        {
            Assert.Equal(scenario.Expected, DecoderFeed.Run(scenario.Stream, Chunking.Whole).Events);
            Assert.Equal(scenario.Expected, DecoderFeed.Run(scenario.Stream, sizes, probeEmptyInput: true).Events);
            Assert.Equal(scenario.Expected, DecoderFeed.Run(scenario.Stream, Chunking.ByteByByte).Events);
        }, iter: 200, print: c => $"{c.Item1}; chunks [{string.Join(", ", c.Item2)}]");
    }

    [Fact]
    public void FrameDecoder_Data_PointsIntoTheInputWithoutCopying()
    {
        byte[] stream = HexBytes.Parse("81 05 48 65 6c 6c 6f 82 02 aa bb");
        var decoder = new FrameDecoder(DecoderFeed.DefaultMaxMessageSize);

        Assert.Equal(DecodeStatus.Data, decoder.Decode(stream, out int consumed, out DecodedFrame frame));
        Assert.Equal(new DecodedFrame(Opcode.Text, 2, 5, EndOfMessage: true), frame);
        Assert.Equal(7, consumed);

        Assert.Equal(DecodeStatus.Data, decoder.Decode(stream.AsSpan(7), out consumed, out frame));
        Assert.Equal(new DecodedFrame(Opcode.Binary, 2, 2, EndOfMessage: true), frame);
        Assert.Equal(4, consumed);

        Assert.Equal(DecodeStatus.NeedMoreData, decoder.Decode([], out consumed, out _));
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void FrameDecoder_PartialPayload_ReportsPiecesAsTheyArrive()
    {
        var decoder = new FrameDecoder(DecoderFeed.DefaultMaxMessageSize);

        Assert.Equal(DecodeStatus.Data, decoder.Decode(HexBytes.Parse("82 04 01 02"), out int consumed, out DecodedFrame frame));
        Assert.Equal(new DecodedFrame(Opcode.Binary, 2, 2, EndOfMessage: false), frame);
        Assert.Equal(4, consumed);
        Assert.True(decoder.InFrame);
        Assert.True(decoder.InMessage);

        Assert.Equal(DecodeStatus.Data, decoder.Decode(HexBytes.Parse("03 04"), out consumed, out frame));
        Assert.Equal(new DecodedFrame(Opcode.Binary, 0, 2, EndOfMessage: true), frame);
        Assert.False(decoder.InFrame);
        Assert.False(decoder.InMessage);
    }

    [Fact]
    public void FrameDecoder_EmptyNonFinalFrames_AreSkippedNotReported()
    {
        var decoder = new FrameDecoder(DecoderFeed.DefaultMaxMessageSize);
        byte[] stream = HexBytes.Parse("01 00 00 00 00 00 80 01 41");

        Assert.Equal(DecodeStatus.Data, decoder.Decode(stream, out int consumed, out DecodedFrame frame));

        Assert.Equal(new DecodedFrame(Opcode.Text, 8, 1, EndOfMessage: true), frame);
        Assert.Equal(stream.Length, consumed);
    }

    [Fact]
    public void FrameDecoder_Continuation_CarriesTheMessageType()
    {
        var decoder = new FrameDecoder(DecoderFeed.DefaultMaxMessageSize);
        byte[] stream = HexBytes.Parse("02 01 aa 80 01 bb");

        Assert.Equal(DecodeStatus.Data, decoder.Decode(stream, out int consumed, out DecodedFrame first));
        Assert.Equal(DecodeStatus.Data, decoder.Decode(stream.AsSpan(consumed), out _, out DecodedFrame second));

        Assert.Equal(new DecodedFrame(Opcode.Binary, 2, 1, EndOfMessage: false), first);
        Assert.Equal(new DecodedFrame(Opcode.Binary, 2, 1, EndOfMessage: true), second);
    }

    [Fact]
    public void FrameDecoder_InMessageAndInFrame_FollowTheStream()
    {
        var decoder = new FrameDecoder(DecoderFeed.DefaultMaxMessageSize);
        Assert.False(decoder.InMessage);
        Assert.False(decoder.InFrame);

        Assert.Equal(DecodeStatus.Data, decoder.Decode(HexBytes.Parse("01 01 41"), out _, out _));
        Assert.True(decoder.InMessage);
        Assert.False(decoder.InFrame);

        Assert.Equal(DecodeStatus.NeedMoreData, decoder.Decode(HexBytes.Parse("89"), out _, out _));
        Assert.True(decoder.InFrame);

        Assert.Equal(DecodeStatus.Control, decoder.Decode(HexBytes.Parse("00"), out _, out _));
        Assert.True(decoder.InMessage);
        Assert.False(decoder.InFrame);

        Assert.Equal(DecodeStatus.Data, decoder.Decode(HexBytes.Parse("80 01 42"), out _, out DecodedFrame frame));
        Assert.True(frame.EndOfMessage);
        Assert.False(decoder.InMessage);
        Assert.False(decoder.InFrame);
    }

    [Fact]
    public void FrameDecoder_Close_ExposesStatusAndReason()
    {
        var decoder = new FrameDecoder(DecoderFeed.DefaultMaxMessageSize);

        Assert.Equal(DecodeStatus.Control, decoder.Decode(new ServerStream().Close(1001, "going away").ToArray(), out _, out DecodedFrame frame));

        Assert.Equal(Opcode.Close, frame.Opcode);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, decoder.CloseStatus);
        Assert.Equal("going away", decoder.CloseReason);
        Assert.Equal(12, decoder.ControlPayload.Length);
    }

    [Fact]
    public void FrameDecoder_MessageExactlyAtTheLimit_IsAccepted()
    {
        byte[] single = new ServerStream().Binary(DecoderScenarios.Pattern(100)).ToArray();
        byte[] fragmented = new ServerStream()
            .Text(new string('a', 60), fin: false).Ping().Continuation(new string('b', 40), fin: true)
            .Text(new string('c', 100))
            .ToArray();

        Assert.Equal([DecoderEvent.Binary(DecoderScenarios.Pattern(100))], DecoderFeed.Run(single, Chunking.ByteByByte, maxMessageSize: 100).Events);
        Assert.Equal(
            [DecoderEvent.Ping([]), DecoderEvent.Text(new string('a', 60) + new string('b', 40)), DecoderEvent.Text(new string('c', 100))],
            DecoderFeed.Run(fragmented, Chunking.ByteByByte, maxMessageSize: 100).Events);
    }

    [Fact]
    public void FrameDecoder_ControlFramesDoNotCountTowardsTheMessageLimit()
    {
        byte[] stream = new ServerStream()
            .Binary(DecoderScenarios.Pattern(10), fin: false)
            .Ping(DecoderScenarios.Pattern(125))
            .Continuation([], fin: true)
            .ToArray();

        Assert.Equal(
            [DecoderEvent.Ping(DecoderScenarios.Pattern(125)), DecoderEvent.Binary(DecoderScenarios.Pattern(10))],
            DecoderFeed.Run(stream, Chunking.Whole, maxMessageSize: 10).Events);
    }

    [Fact]
    public void FrameDecoder_AllowRsv1_CompressedFirstFrame_IsReportedAndNotValidatedAsUtf8()
    {
        // RFC 7692 §6: RSV1 on the first frame marks a compressed message; its bytes are
        // DEFLATE output, checked as UTF-8 only after inflating.
        byte[] stream = new ServerStream()
            .Frame(true, 0x1, [0xc0, 0x80], rsv: 0b100)
            .Frame(false, 0x2, [0x01], rsv: 0b100).Continuation([0x02], fin: true)
            .Text("plain")
            .ToArray();

        string[] expected =
        [
            DecoderEvent.Text([0xc0, 0x80], compressed: true),
            DecoderEvent.Binary([0x01, 0x02], compressed: true),
            DecoderEvent.Text("plain"),
        ];

        Assert.Equal(expected, DecoderFeed.Run(stream, Chunking.Whole, allowRsv1: true).Events);
        Assert.Equal(expected, DecoderFeed.Run(stream, Chunking.ByteByByte, allowRsv1: true).Events);
    }

    [Fact]
    public void FrameDecoder_AllowRsv1_IsExposed()
    {
        Assert.True(new FrameDecoder(10, allowRsv1: true).AllowRsv1);
        Assert.False(new FrameDecoder(10).AllowRsv1);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void FrameDecoder_NonPositiveMaxMessageSize_Throws(long maxMessageSize)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FrameDecoder(maxMessageSize));
    }
}
