using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Autobahn case 9 (limits and volume), asserted as behaviour, never as speed: a message over
/// <see cref="WebSocketConnectionOptions.MaxMessageSize"/> fails with 1009 as soon as a frame header announces it;
/// bursts of many small messages arrive complete and in order; large messages arrive intact however they are
/// fragmented, both ways.
/// </summary>
public sealed class Case9LimitsTests
{
    private const int Limit = 64 * 1024;

    [Theory]
    [InlineData(0x1, Limit + 1UL)]
    [InlineData(0x2, Limit + 1UL)]
    [InlineData(0x2, 1UL << 40)]
    [InlineData(0x2, long.MaxValue)]
    public async Task FrameOverTheLimit_ClosesWith1009BeforeThePayloadIsSent(byte opcode, ulong announced)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = Limit);

        // Only the header: the client must not wait for (or buffer) a payload it will refuse anyway.
        await session.WriteAsync(RawConnection.FrameHeader(opcode, announced));

        WebSocketProtocolException error = await session.ExpectFailedAsync(1009);
        Assert.Contains(Limit.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FragmentsAddingUpOverTheLimit_CloseWith1009AtTheHeaderThatCrossesIt()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = Limit);
        byte[] half = RandomNumberGenerator.GetBytes(40 * 1024);

        // 40 KiB is within the limit: the client takes it and still answers Pings.
        await session.WriteAsync(RawConnection.Frame(0x2, half, fin: false));
        await session.RoundTripPingAsync();

        // The continuation's header brings the total to 80 KiB; its payload is never sent.
        await session.WriteAsync(RawConnection.FrameHeader(0x0, (ulong)half.Length));

        await session.ExpectFailedAsync(1009);
    }

    [Fact]
    public async Task ManySmallFragmentsOverTheLimit_CloseWith1009()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = 1000);
        var frames = new MemoryStream();
        for (int i = 0; i < 10; i++)
        {
            frames.Write(RawConnection.Frame(i == 0 ? (byte)0x1 : (byte)0x0, new byte[100].Select(_ => (byte)'a').ToArray(), fin: false));
        }

        await session.WriteAsync(frames.ToArray());
        await session.RoundTripPingAsync();
        await session.WriteAsync(RawConnection.FrameHeader(0x0, 1));

        await session.ExpectFailedAsync(1009);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public async Task MessageOfExactlyTheLimit_IsAccepted(int fragments)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = Limit);
        byte[] payload = RandomNumberGenerator.GetBytes(Limit);

        await session.WriteAsync(Fragments(0x2, payload, payload.Length / fragments));

        await session.ExpectBinaryAsync(payload);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task TenThousandSmallMessagesInOneBurst_AllArriveInOrder()
    {
        const int count = 10_000;
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        var burst = new MemoryStream();
        for (int i = 0; i < count; i++)
        {
            burst.Write(i % 2 == 0
                ? RawConnection.Frame(0x1, Encoding.UTF8.GetBytes($"message {i}"))
                : RawConnection.Frame(0x2, BitConverter.GetBytes(i)));
        }

        // More than the receive queue holds: the client reads as the application drains it (backpressure, no loss).
        Task write = session.WriteAsync(burst.ToArray());
        for (int i = 0; i < count; i++)
        {
            WebSocketMessage message = await session.ReceiveAsync();
            if (i % 2 == 0)
            {
                Assert.Equal($"message {i}", message.Text);
            }
            else
            {
                Assert.Equal(i, BinaryPrimitives.ReadInt32LittleEndian(message.Data.Span));
            }
        }

        await write.WaitAsync(session.Token);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task TenThousandSmallMessagesFromTheApplication_AllGoOutMaskedAndInOrder()
    {
        const int count = 10_000;
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task send = Task.Run(async () =>
        {
            for (int i = 0; i < count; i++)
            {
                await session.Client.SendTextAsync($"message {i}", session.Token);
            }
        });
        for (int i = 0; i < count; i++)
        {
            RawFrame frame = await session.ReadClientFrameAsync(0x1);
            Assert.Equal($"message {i}", frame.Text);
        }

        await send.WaitAsync(session.Token);
        await session.CloseFromServerAsync();
    }

    [Theory]
    [InlineData(256)]
    [InlineData(64 * 1024)]
    [InlineData(1024 * 1024)]
    public async Task FourMebibyteMessageInFragments_ArrivesIntact(int fragmentSize)
    {
        // Autobahn 9.3/9.4: 4 MiB in fragments of various sizes.
        const int size = 4 * 1024 * 1024;
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = 8 * 1024 * 1024);
        byte[] payload = RandomNumberGenerator.GetBytes(size);

        Task write = session.WriteAsync(Fragments(0x2, payload, fragmentSize));
        await session.ExpectBinaryAsync(payload);
        await write.WaitAsync(session.Token);

        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task FourMebibyteTextInFragments_StreamedWithReceiveAsync_ArrivesIntact()
    {
        const int size = 4 * 1024 * 1024;
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = size);
        byte[] payload = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("κόσμε-😀-", size / 20)));
        payload = payload.AsSpan(0, LastBoundary(payload, size)).ToArray();

        Task write = session.WriteAsync(Fragments(0x1, payload, 64 * 1024));
        using var received = new MemoryStream();
        byte[] buffer = new byte[4096];
        while (true)
        {
            ValueWebSocketReceiveResult result = await session.Client.ReceiveAsync(buffer, session.Token).AsTask().WaitAsync(session.Token);
            Assert.Equal(WebSocketMessageType.Text, result.MessageType);
            received.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                break;
            }
        }

        await write.WaitAsync(session.Token);
        Assert.True(payload.AsSpan().SequenceEqual(received.ToArray()));
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task FourMebibyteMessageFromTheApplicationInFragments_GoesOutAsOneMaskedFragmentedMessage()
    {
        const int size = 4 * 1024 * 1024;
        const int piece = 64 * 1024;
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = RandomNumberGenerator.GetBytes(size);

        Task send = Task.Run(async () =>
        {
            WebSocketMessageWriter writer = await session.Client.CreateMessageWriterAsync(WebSocketMessageType.Binary, session.Token);
            for (int offset = 0; offset < size - piece; offset += piece)
            {
                await writer.WriteAsync(payload.AsMemory(offset, piece), session.Token);
            }

            await writer.CompleteAsync(payload.AsMemory(size - piece), session.Token);
        });

        using var received = new MemoryStream();
        for (int i = 0; i < size / piece; i++)
        {
            RawFrame frame = await session.ReadClientFrameAsync();
            Assert.Equal(i == 0 ? 0x2 : 0x0, frame.Opcode);
            Assert.Equal(i == size / piece - 1, frame.Fin);
            received.Write(frame.Payload);
        }

        await send.WaitAsync(session.Token);
        Assert.True(payload.AsSpan().SequenceEqual(received.ToArray()));
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task LargeMessagesBothWays_WithPingsInterleaved_AllComplete()
    {
        // Autobahn 9.x echo style: the server sends 1 MiB messages while the application echoes each one back.
        const int size = 1024 * 1024;
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = size);
        byte[][] payloads = [.. Enumerable.Range(0, 4).Select(_ => RandomNumberGenerator.GetBytes(size))];

        foreach (byte[] payload in payloads)
        {
            await session.WriteAsync([.. RawConnection.Frame(0x9, "mid"u8), .. RawConnection.Frame(0x2, payload)]);
            RawFrame pong = await session.ReadClientFrameAsync(0xA);
            Assert.Equal("mid", pong.Text);
            WebSocketMessage message = await session.ReceiveAsync();
            Task echo = session.Client.SendBinaryAsync(message.Data, session.Token).AsTask();
            RawFrame frame = await session.ReadClientFrameAsync(0x2);
            await echo.WaitAsync(session.Token);
            Assert.True(payload.AsSpan().SequenceEqual(frame.Payload));
        }

        await session.CloseFromServerAsync();
    }

    private static byte[] Fragments(byte opcode, byte[] payload, int fragmentSize)
    {
        var frames = new MemoryStream(payload.Length + (payload.Length / fragmentSize * 14) + 14);
        int offset = 0;
        do
        {
            int length = Math.Min(fragmentSize, payload.Length - offset);
            frames.Write(RawConnection.Frame(offset == 0 ? opcode : (byte)0x0, payload.AsSpan(offset, length), fin: offset + length == payload.Length));
            offset += length;
        }
        while (offset < payload.Length);

        return frames.ToArray();
    }

    /// <summary>The largest length at most <paramref name="max"/> that ends on a UTF-8 sequence boundary.</summary>
    private static int LastBoundary(byte[] utf8, int max)
    {
        int end = Math.Min(max, utf8.Length);
        while (end < utf8.Length && (utf8[end] & 0xC0) == 0x80)
        {
            end--;
        }

        return end;
    }
}
