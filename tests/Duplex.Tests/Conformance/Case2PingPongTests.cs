using System.Text;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Autobahn case 2 (pings and pongs): every Ping from the server gets a masked Pong with identical application data
/// (RFC 6455 §5.5.2–§5.5.3), without the application calling receive; oversized Pings fail the connection;
/// unsolicited Pongs are ignored.
/// </summary>
public sealed class Case2PingPongTests
{
    public static TheoryData<string, byte[], int> PingPayloads() => new()
    {
        { "2.1 empty", [], 0 },
        { "2.2 text", "Hello, world!"u8.ToArray(), 0 },
        { "2.3 binary", [0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF], 0 },
        { "2.4 125 bytes", Enumerable.Repeat((byte)0xFE, 125).ToArray(), 0 },
        { "2.6 125 bytes, 1-byte writes", Enumerable.Range(0, 125).Select(i => (byte)i).ToArray(), 1 },
        { "2.6 125 bytes, 3-byte writes", Enumerable.Range(0, 125).Select(i => (byte)(255 - i)).ToArray(), 3 },
    };

    [Theory]
    [MemberData(nameof(PingPayloads))]
    public async Task Ping_GetsPongWithIdenticalPayload(string autobahnCase, byte[] payload, int chunkSize)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync(RawConnection.Frame(0x9, payload), chunkSize);
        RawFrame pong = await session.ReadClientFrameAsync(0xA);

        Assert.Equal(payload, pong.Payload);

        // The Pong came from the receive loop: the application never called receive and sees no message for it.
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task PingWith126BytePayload_FailsWithProtocolErrorAndNoPong()
    {
        // Autobahn 2.5; RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less".
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.Raw.SendFrameAsync(0x9, Enumerable.Repeat((byte)0xFE, 126).ToArray(), cancellationToken: session.Token);

        await session.ExpectFailedAsync(1002);
    }

    [Fact]
    public async Task PingWith126BytePayload_FailsAsSoonAsTheHeaderArrives()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        // Only the header: the length alone breaks the rule, no payload is waited for.
        await session.WriteAsync(RawConnection.FrameHeader(0x9, 126));

        await session.ExpectFailedAsync(1002);
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x75, 0x6E, 0x73, 0x6F, 0x6C, 0x69, 0x63, 0x69, 0x74, 0x65, 0x64 })]
    public async Task UnsolicitedPong_IsIgnored(byte[] payload)
    {
        // Autobahn 2.7/2.8; RFC 6455 §5.5.3: "A response to an unsolicited Pong frame is not expected."
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.Raw.SendFrameAsync(0xA, payload, cancellationToken: session.Token);
        await session.Raw.SendTextAsync("after pong", session.Token);

        await session.ExpectTextAsync("after pong");

        // The next frame the client sends is the Pong for this Ping: nothing was sent for the unsolicited Pong.
        await session.RoundTripPingAsync("ping after pong");
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task UnsolicitedPongThenPing_OnlyThePingIsAnswered()
    {
        // Autobahn 2.9.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync([.. RawConnection.Frame(0xA, "unsolicited pong payload"u8), .. RawConnection.Frame(0x9, "ping payload"u8)]);
        RawFrame pong = await session.ReadClientFrameAsync(0xA);

        Assert.Equal("ping payload", pong.Text);
        await session.RoundTripPingAsync();
        await session.CloseFromServerAsync();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task TenPingsInARow_GetTenPongsInOrder(int chunkSize)
    {
        // Autobahn 2.10 (one write) and 2.11 (1-byte writes).
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        string[] payloads = [.. Enumerable.Range(0, 10).Select(i => $"payload-{i}")];

        await session.WriteAsync(payloads.SelectMany(p => RawConnection.Frame(0x9, Encoding.UTF8.GetBytes(p))).ToArray(), chunkSize);

        foreach (string payload in payloads)
        {
            RawFrame pong = await session.ReadClientFrameAsync(0xA);
            Assert.Equal(payload, pong.Text);
        }

        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task PingBetweenMessages_IsAnsweredWhileTheApplicationHasNotRead()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync([.. RawConnection.Frame(0x1, "first"u8), .. RawConnection.Frame(0x9, "between"u8), .. RawConnection.Frame(0x1, "second"u8)]);
        RawFrame pong = await session.ReadClientFrameAsync(0xA);

        Assert.Equal("between", pong.Text);
        await session.ExpectTextAsync("first");
        await session.ExpectTextAsync("second");
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task PingBehindUnreadMessages_IsAnsweredOnceTheApplicationReads()
    {
        // Backpressure: with the receive queue full the client stops reading the socket, so a Ping queued behind
        // the unread messages waits for the application; nothing is dropped and the Pong follows.
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.ReceiveQueueCapacity = 2);
        var burst = new List<byte>();
        for (int i = 0; i < 6; i++)
        {
            burst.AddRange(RawConnection.Frame(0x1, Encoding.UTF8.GetBytes($"message {i}")));
        }

        await session.WriteAsync([.. burst, .. RawConnection.Frame(0x9, "behind"u8)]);
        for (int i = 0; i < 6; i++)
        {
            await session.ExpectTextAsync($"message {i}");
        }

        RawFrame pong = await session.ReadClientFrameAsync(0xA);
        Assert.Equal("behind", pong.Text);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task EachPongIsFreshlyMasked()
    {
        // RFC 6455 §5.3: a new masking key for every frame, so the same payload never looks the same on the wire.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = Enumerable.Repeat((byte)0xAA, 16).ToArray();
        var keys = new HashSet<int>();

        for (int i = 0; i < 8; i++)
        {
            await session.Raw.SendFrameAsync(0x9, payload, cancellationToken: session.Token);
            RawFrame pong = await session.ReadClientFrameAsync(0xA);
            Assert.Equal(payload, pong.Payload);
            keys.Add(BitConverter.ToInt32(pong.MaskKey!));
        }

        Assert.True(keys.Count > 1, "Every Pong used the same masking key.");
        await session.CloseFromServerAsync();
    }
}
