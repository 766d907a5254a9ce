using System.Net.WebSockets;
using System.Security.Cryptography;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Autobahn case 1 (framing): text and binary messages of every length form arrive intact, whether the server
/// writes a frame in one go or in tiny TCP writes, and the application echoes them back as masked frames.
/// </summary>
public sealed class Case1FramingTests
{
    // Autobahn 1.1.1–1.1.6 and 1.2.1–1.2.6: the edges of the 7-, 16- and 64-bit length forms.
    public static TheoryData<byte, int, int> Lengths()
    {
        var data = new TheoryData<byte, int, int>();
        foreach (byte opcode in new byte[] { 0x1, 0x2 })
        {
            foreach (int length in new[] { 0, 125, 126, 127, 128, 65535, 65536 })
            {
                data.Add(opcode, length, 0);
            }

            // Autobahn 1.1.7/1.1.8 and 1.2.7/1.2.8: the same frames written 997 bytes at a time.
            foreach (int length in new[] { 126, 65535, 65536 })
            {
                data.Add(opcode, length, 997);
            }

            // Byte by byte: every header and payload boundary falls between two reads.
            foreach (int length in new[] { 0, 125, 126, 127, 128 })
            {
                data.Add(opcode, length, 1);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Lengths))]
    public async Task Message_OfLength_ArrivesIntactAndEchoesMasked(byte opcode, int length, int chunkSize)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = Payload(opcode, length);

        await session.WriteAsync(RawConnection.Frame(opcode, payload), chunkSize);
        WebSocketMessage message = await session.ReceiveAsync();

        byte[] received = AssertMessage(message, opcode, payload);
        await EchoAsync(session, message.MessageType, received);
        RawFrame echo = await session.ReadClientFrameAsync(opcode);
        Assert.Equal(payload, echo.Payload);
        await session.CloseFromServerAsync();
    }

    [Theory]
    [InlineData(0x1, 0)]
    [InlineData(0x2, 0)]
    [InlineData(0x1, 997)]
    [InlineData(0x2, 997)]
    [InlineData(0x2, -1)]
    public async Task SixteenMebibyteMessage_WithRaisedLimit_ArrivesIntact(byte opcode, int chunkSize)
    {
        const int length = 16 * 1024 * 1024;
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = length);
        byte[] payload = Payload(opcode, length);
        byte[] frame = RawConnection.Frame(opcode, payload);

        // The receive queue holds less than 16 MiB, so the server writes while the application reads.
        Task write = chunkSize >= 0 ? session.WriteAsync(frame, chunkSize) : WriteOneByteThenRestAsync(session, frame);
        WebSocketMessage message = await session.ReceiveAsync();
        await write.WaitAsync(session.Token);

        AssertMessage(message, opcode, payload);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task SixteenMebibyteMessage_EchoedByApplication_GoesOutMaskedAndIntact()
    {
        const int length = 16 * 1024 * 1024;
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = length);
        byte[] payload = RandomNumberGenerator.GetBytes(length);

        Task send = session.Client.SendBinaryAsync(payload, session.Token).AsTask();
        RawFrame echo = await session.ReadClientFrameAsync(0x2);
        await send.WaitAsync(session.Token);

        Assert.True(payload.AsSpan().SequenceEqual(echo.Payload));
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ManyFramesInOneWrite_AllArriveInOrder()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[][] payloads = [.. new[] { 0, 1, 125, 126, 127, 65535, 65536, 3 }.Select(n => RandomNumberGenerator.GetBytes(n))];

        await session.WriteAsync(payloads.SelectMany(p => RawConnection.Frame(0x2, p)).ToArray());
        foreach (byte[] payload in payloads)
        {
            await session.ExpectBinaryAsync(payload);
        }

        await session.CloseFromServerAsync();
    }

    [Theory]
    [InlineData(126, FrameLengthEncoding.SixtyFourBit)]
    [InlineData(0, FrameLengthEncoding.SixteenBit)]
    [InlineData(125, FrameLengthEncoding.SixteenBit)]
    [InlineData(65535, FrameLengthEncoding.SixtyFourBit)]
    public async Task NonMinimalLengthForm_FailsWithProtocolError(int length, FrameLengthEncoding encoding)
    {
        // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync(RawConnection.Frame(0x2, new byte[length], lengthEncoding: encoding));

        await session.ExpectFailedAsync(1002);
    }

    [Fact]
    public async Task LengthWithMostSignificantBitSet_FailsWithProtocolError()
    {
        // RFC 6455 §5.2: in the 64-bit form "the most significant bit MUST be 0".
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync(RawConnection.FrameHeader(0x2, 0x8000_0000_0000_0001UL, lengthEncoding: FrameLengthEncoding.SixtyFourBit));

        await session.ExpectFailedAsync(1002);
    }

    [Fact]
    public async Task MaskedFrameFromServer_FailsWithProtocolError()
    {
        // RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.Raw.SendFrameAsync(0x1, "masked"u8.ToArray(), masked: true, cancellationToken: session.Token);

        await session.ExpectFailedAsync(1002);
    }

    private static byte[] Payload(byte opcode, int length)
    {
        if (opcode == 0x2)
        {
            return RandomNumberGenerator.GetBytes(length);
        }

        // Printable ASCII: valid UTF-8 at every length.
        byte[] text = new byte[length];
        for (int i = 0; i < length; i++)
        {
            text[i] = (byte)('!' + (i % 90));
        }

        return text;
    }

    private static byte[] AssertMessage(WebSocketMessage message, byte opcode, byte[] payload)
    {
        if (opcode == 0x1)
        {
            Assert.Equal(WebSocketMessageType.Text, message.MessageType);
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(message.Text!);
            Assert.True(payload.AsSpan().SequenceEqual(bytes), "The text message arrived altered.");
            return bytes;
        }

        Assert.Equal(WebSocketMessageType.Binary, message.MessageType);
        Assert.Equal(payload.Length, message.Data.Length);
        Assert.True(payload.AsSpan().SequenceEqual(message.Data.Span), "The binary message arrived altered.");
        return message.Data.ToArray();
    }

    private static ValueTask EchoAsync(ConformanceSession session, WebSocketMessageType type, byte[] payload) =>
        session.Client.SendAsync(payload, type, session.Token);

    private static async Task WriteOneByteThenRestAsync(ConformanceSession session, byte[] frame)
    {
        await session.WriteAsync(frame.AsMemory(0, 1));
        await session.WriteAsync(frame.AsMemory(1));
    }
}
