using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Autobahn case 7 (close handling, RFC 6455 §5.5.1, §7): the client echoes a valid Close and reports it, rejects
/// malformed Close payloads with 1002 or 1007, ignores everything after a Close, runs its own closing handshake
/// within the close timeout whatever the server does, and reports a dropped TCP connection as 1006.
/// </summary>
public sealed class Case7CloseHandlingTests
{
    public static TheoryData<ushort, string> ValidCloses() => new()
    {
        // Autobahn 7.3.3/7.3.4/7.3.5 and 7.7.x.
        { 1000, "" },
        { 1000, "Hello World!" },
        { 1000, new string('*', 123) },
        { 1001, "going away" },
        { 1002, "" },
        { 1003, "" },
        { 1007, "" },
        { 1008, "" },
        { 1009, "" },
        { 1010, "" },
        { 1011, "" },
        { 1012, "" },
        { 1013, "" },
        { 1014, "" },
        { 3000, "library code" },
        { 3999, "" },
        { 4000, "private code" },
        { 4999, "ünïcödé reason" },
    };

    [Theory]
    [MemberData(nameof(ValidCloses))]
    public async Task ServerClose_WithValidCode_IsEchoedAndReported(ushort code, string reason)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.CloseFromServerAsync(code, reason);

        Assert.Equal((WebSocketCloseStatus)code, session.Client.RemoteCloseStatus);
        Assert.Equal(reason, session.Client.RemoteCloseStatusDescription);
        Assert.Equal((WebSocketCloseStatus)code, session.Client.LocalCloseStatus);
    }

    [Fact]
    public async Task ServerClose_AfterMessages_MessagesAreReadFirst()
    {
        // Autobahn 7.1.1 and 7.1.6: a big message and a Ping, then the Close; all handled in order.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        string big = new('x', 256 * 1024);

        await session.WriteAsync(
        [
            .. RawConnection.Frame(0x1, "Hello World!"u8),
            .. RawConnection.Frame(0x1, Encoding.UTF8.GetBytes(big)),
            .. RawConnection.Frame(0x9, "ping"u8),
        ]);
        RawFrame pong = await session.ReadClientFrameAsync(0xA);

        Assert.Equal("ping", pong.Text);
        await session.ExpectTextAsync("Hello World!");
        await session.ExpectTextAsync(big);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ServerClose_WithEmptyPayload_GetsEmptyCloseAndNoStatus()
    {
        // Autobahn 7.3.1; RFC 6455 §5.5.1 and §7.1.5: a Close without a code means "no status" (1005).
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.Raw.SendFrameAsync(0x8, ReadOnlyMemory<byte>.Empty, cancellationToken: session.Token);
        RawCloseFrame echo = await session.ReadClientCloseAsync();
        session.Raw.ShutdownSend();
        WebSocketMessage message = await session.ReceiveAsync();

        Assert.Empty(echo.Frame.Payload);
        Assert.True(message.IsClose);
        Assert.Null(message.CloseStatus);
        Assert.Null(session.Client.RemoteCloseStatus);
        await session.Client.Completion.WaitAsync(session.Token);
        Assert.Null(session.Client.CloseError);
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, session.Token));
    }

    public static TheoryData<string, byte[], ushort> BadClosePayloads()
    {
        var data = new TheoryData<string, byte[], ushort>
        {
            // Autobahn 7.3.2: a body, if present, starts with a 2-byte code.
            { "7.3.2 one-byte payload", [0x03], 1002 },

            // Autobahn 7.3.6: 2 + 124 bytes is more than a control frame may carry.
            { "7.3.6 reason of 124 bytes", RawConnection.ClosePayload(1000, new string('*', 124)), 1002 },

            // Autobahn 7.5.1; RFC 6455 §5.5.1 and §8.1: the reason must be UTF-8.
            { "7.5.1 reason not UTF-8", [0x03, 0xE8, 0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64], 1007 },
            { "reason cut in the middle of a sequence", [0x03, 0xE8, 0x61, 0xE2, 0x82], 1007 },
            { "reason with an overlong NUL", [0x03, 0xE8, 0xC0, 0x80], 1007 },
        };

        // Autobahn 7.9.x: codes that may never appear on the wire (RFC 6455 §7.4.1–§7.4.2).
        foreach (ushort code in new ushort[] { 0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535 })
        {
            data.Add($"7.9 code {code}", RawConnection.ClosePayload(code, "reason"), 1002);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BadClosePayloads))]
    public async Task ServerClose_WithBadPayload_FailsTheConnection(string autobahnCase, byte[] payload, ushort expectedCode)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync(RawConnection.Frame(0x8, payload));

        await session.ExpectFailedAsync(expectedCode);
        Assert.Null(session.Client.RemoteCloseStatus);
    }

    public static TheoryData<string, byte[], string?> DataAfterClose() => new()
    {
        // Autobahn 7.1.2–7.1.5: after the server's Close nothing is processed: no Pong, no message, no second Close.
        { "7.1.2 second Close", RawConnection.Frame(0x8, RawConnection.ClosePayload(1001, "again")), null },
        { "7.1.3 Ping after Close", RawConnection.Frame(0x9, "ping"u8), null },
        { "7.1.4 text after Close", RawConnection.Frame(0x1, "after close"u8), null },
        { "garbage after Close", [0xFF, 0xFF, 0xFF, 0xFF], null },
        { "7.1.5 continuation after Close", RawConnection.Frame(0x0, "fragment2"u8), "fragment1" },
    };

    [Theory]
    [MemberData(nameof(DataAfterClose))]
    public async Task DataAfterServerClose_IsIgnored(string autobahnCase, byte[] after, string? fragmentBefore)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] before = fragmentBefore is null ? [] : RawConnection.Frame(0x1, Encoding.UTF8.GetBytes(fragmentBefore), fin: false);

        await session.WriteAsync([.. before, .. RawConnection.Frame(0x8, RawConnection.ClosePayload(1000, "first")), .. after]);
        RawCloseFrame echo = await session.ReadClientCloseAsync();
        session.Raw.ShutdownSend();

        // The Close is the last frame the client sends; then it ends TCP.
        Assert.Equal((ushort)1000, echo.Code);
        await Assert.ThrowsAsync<EndOfStreamException>(() => session.Raw.ReadFrameAsync(TestTimeouts.Default, session.Token));

        // The application sees the Close and nothing of the fragment before it or the frames after it.
        WebSocketMessage message = await session.ReceiveAsync();
        Assert.True(message.IsClose);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, message.CloseStatus);
        Assert.Equal("first", message.CloseStatusDescription);
        Assert.Null(session.Client.CloseError);
    }

    [Theory]
    [InlineData(1000, "bye")]
    [InlineData(1001, "")]
    [InlineData(3000, "library")]
    [InlineData(4999, "ünïcödé")]
    public async Task ClientClose_ServerEchoesAndEndsTcp_CompletesCleanly(ushort code, string reason)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task close = session.Client.CloseAsync((WebSocketCloseStatus)code, reason, session.Token);
        RawCloseFrame sent = await session.ReadClientCloseAsync();

        Assert.Equal([(byte)(code >> 8), (byte)code, .. Encoding.UTF8.GetBytes(reason)], sent.Frame.Payload);
        Assert.Equal(WebSocketConnectionState.Closing, session.Client.State);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => session.Client.SendTextAsync("too late", session.Token).AsTask());

        await session.Raw.SendCloseAsync(code, reason, session.Token);
        await session.Raw.DisposeAsync();
        await close.WaitAsync(session.Token);

        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.Null(session.Client.CloseError);
        Assert.Equal((WebSocketCloseStatus)code, session.Client.LocalCloseStatus);
        Assert.Equal((WebSocketCloseStatus)code, session.Client.RemoteCloseStatus);
        WebSocketMessage message = await session.ReceiveAsync();
        Assert.True(message.IsClose);
        Assert.Equal((WebSocketCloseStatus)code, message.CloseStatus);
        Assert.True(session.Client.Completion.IsCompleted);
    }

    [Fact]
    public async Task ServerClose_ThenImmediateSocketClose_ReportedAsCleanClose()
    {
        // Many servers close the socket right after their Close frame, before the echo can arrive.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.Raw.SendCloseAsync(1001, "restarting", session.Token);
        await session.Raw.DisposeAsync();
        WebSocketMessage message = await session.ReceiveAsync();

        Assert.True(message.IsClose);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, message.CloseStatus);
        Assert.Equal("restarting", message.CloseStatusDescription);
        await session.Client.Completion.WaitAsync(session.Token);
        Assert.Null(session.Client.CloseError);
    }

    [Fact]
    public async Task ClientClose_ServerStopsReadingWhileTheClientSends_ReturnsWithinCloseTimeout()
    {
        // The Close waits behind data the server never reads; the close timeout still bounds everything.
        TimeSpan closeTimeout = TimeSpan.FromSeconds(1);
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.CloseTimeout = closeTimeout);

        Task send = session.Client.SendBinaryAsync(new byte[32 * 1024 * 1024], session.Token).AsTask();
        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);

        await close.WaitAsync(closeTimeout + TimeSpan.FromSeconds(4), session.Token);

        // The send was accepted into the write buffer; the message never got through, and the
        // connection hands it back instead of losing it silently.
        await send.WaitAsync(session.Token);
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        await session.Client.Completion.WaitAsync(session.Token);
        WebSocketMessage unsent = Assert.Single(session.Client.TakeUnsentMessages());
        Assert.Equal(WebSocketMessageType.Binary, unsent.MessageType);
        Assert.Equal(32 * 1024 * 1024, unsent.Data.Length);
        Assert.Empty(session.Client.TakeUnsentMessages());

        // The client closed its socket; the kernel still delivers what was buffered, then the FIN.
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, session.Token), "The client did not close the socket.");
    }

    [Fact]
    public async Task ServerPingAfterClientClose_HandshakeStillCompletes()
    {
        // RFC 6455 §5.5.2 asks for a Pong "unless it already received a Close frame"; Duplex, like WebKit and
        // Blink, stops sending anything after its own Close. Either way the closing handshake must complete.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);
        await session.ReadClientCloseAsync();
        await session.WriteAsync([.. RawConnection.Frame(0x9, "still there?"u8), .. RawConnection.Frame(0x8, RawConnection.ClosePayload(1000))]);
        session.Raw.ShutdownSend();
        await close.WaitAsync(session.Token);

        // Nothing but (at most) a Pong with the Ping's payload may follow the client's Close.
        while (true)
        {
            RawFrame frame;
            try
            {
                frame = await session.ReadClientFrameAsync();
            }
            catch (EndOfStreamException)
            {
                break;
            }

            Assert.Equal(0xA, frame.Opcode);
            Assert.Equal("still there?", frame.Text);
        }

        Assert.Null(session.Client.CloseError);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, session.Client.RemoteCloseStatus);
    }

    [Fact]
    public async Task ClientClose_MessagesArrivingBeforeServerClose_StayReadable()
    {
        // RFC 6455 §7.1.2: the peer may still send data until its own Close.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);
        await session.ReadClientCloseAsync();
        await session.WriteAsync([.. RawConnection.Frame(0x1, "late"u8), .. RawConnection.Frame(0x8, RawConnection.ClosePayload(1000))]);
        session.Raw.ShutdownSend();
        await close.WaitAsync(session.Token);

        await session.ExpectTextAsync("late");
        Assert.True((await session.ReceiveAsync()).IsClose);
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, session.Token));
    }

    [Fact]
    public async Task CloseFramesCross_ClientSendsOnlyOneClose()
    {
        // RFC 6455 §7.1.2/§5.5.1: both sides close at once; the client must not answer the server's Close again.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.Raw.SendCloseAsync(1001, "server going away", session.Token);
        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "client done", session.Token);
        RawCloseFrame sent = await session.ReadClientCloseAsync();
        session.Raw.ShutdownSend();
        await close.WaitAsync(session.Token);

        // Whichever Close the client sent first (its own or the echo), it sent exactly one.
        Assert.True(sent.Code is 1000 or 1001);
        await Assert.ThrowsAsync<EndOfStreamException>(() => session.Raw.ReadFrameAsync(TestTimeouts.Default, session.Token));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, session.Client.RemoteCloseStatus);
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.Null(session.Client.CloseError);
    }

    [Fact]
    public async Task ClientClose_ServerNeverAnswers_ReturnsWithinCloseTimeoutAndClosesSocket()
    {
        TimeSpan closeTimeout = TimeSpan.FromSeconds(1);
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.CloseTimeout = closeTimeout);

        var clock = Stopwatch.StartNew();
        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);
        RawCloseFrame sent = await session.ReadClientCloseAsync();
        Assert.Equal((ushort)1000, sent.Code);

        // Bounded well below the 10 s default and the 5 s cap for internal waits: the configured timeout applies.
        await close.WaitAsync(closeTimeout + TimeSpan.FromSeconds(3), session.Token);
        clock.Stop();

        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Short, session.Token), "The client did not close the socket.");
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.True(session.Client.Completion.IsCompleted);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, session.Client.LocalCloseStatus);
        Assert.Null(session.Client.RemoteCloseStatus);
        Assert.True(clock.Elapsed >= closeTimeout - TimeSpan.FromMilliseconds(50), $"CloseAsync gave up after {clock.Elapsed}, before the close timeout.");
    }

    [Fact]
    public async Task ClientClose_ServerEchoesButKeepsTcpOpen_ClientClosesSocketAfterCloseTimeout()
    {
        // RFC 6455 §7.1.1: the server should end TCP first; a client that waits for that must not wait forever.
        // The echo has to be in before the close timeout: 3 s leaves a loaded machine room for that.
        TimeSpan closeTimeout = TimeSpan.FromSeconds(3);
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.CloseTimeout = closeTimeout);

        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);
        await session.ReadClientCloseAsync();
        await session.Raw.SendCloseAsync(1000, "bye", session.Token);

        await close.WaitAsync(closeTimeout + TimeSpan.FromSeconds(3), session.Token);
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Short, session.Token), "The client did not close the socket.");
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, session.Client.RemoteCloseStatus);
        Assert.Null(session.Client.CloseError);
    }

    [Fact]
    public async Task ServerClose_ServerKeepsTcpOpen_ClientClosesSocketAfterCloseTimeout()
    {
        TimeSpan closeTimeout = TimeSpan.FromSeconds(1);
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.CloseTimeout = closeTimeout);

        await session.Raw.SendCloseAsync(1000, "bye", session.Token);
        RawCloseFrame echo = await session.ReadClientCloseAsync();
        WebSocketMessage message = await session.Client.ReceiveMessageAsync(session.Token).AsTask().WaitAsync(closeTimeout + TimeSpan.FromSeconds(3), session.Token);

        Assert.Equal((ushort)1000, echo.Code);
        Assert.True(message.IsClose);
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Short, session.Token), "The client did not close the socket.");
        Assert.Null(session.Client.CloseError);
    }

    [Fact]
    public async Task ClientClose_ServerEndsTcpWithoutClose_CompletesAndReportsNoRemoteStatus()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);
        await session.ReadClientCloseAsync();
        await session.Raw.DisposeAsync();
        await close.WaitAsync(session.Token);

        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.Null(session.Client.RemoteCloseStatus);
        Assert.Null(session.Client.CloseError);
    }

    [Fact]
    public async Task ClientClose_ServerDropsTcpTheMomentItReadsTheClose_IsStillACleanClientClose()
    {
        // The Close frame reaches the server, which ends TCP at once, before the client's sending thread has run
        // its next statement (made deterministic by holding the client's Close write until the client reacted).
        HeldWriteStream? stream = null;
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
            o.Transport = new WrappingTransport(inner => stream = new HeldWriteStream(inner, heldFirstByte: 0x88)));

        // CloseAsync queues the Close and may write it on the calling thread; the held write blocks
        // that thread, so the close starts on another one.
        Task close = Task.Run(() => session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token));
        RawCloseFrame sent = await session.ReadClientCloseAsync();

        // Once the Close is on the wire the connection is closing, and the status it sent is known.
        Assert.Equal((ushort)1000, sent.Code);
        Assert.Equal(WebSocketConnectionState.Closing, session.Client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, session.Client.LocalCloseStatus);

        await session.Raw.DisposeAsync();
        await close.WaitAsync(session.Token);

        Assert.True(stream!.Held, "The test did not reproduce a server reacting before the Close write returned.");
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, session.Client.LocalCloseStatus);

        // Same outcome as ClientClose_ServerEndsTcpWithoutClose_CompletesAndReportsNoRemoteStatus: the client asked
        // for the close, so the end of TCP right after it is not a lost connection.
        Assert.Null(session.Client.CloseError);
    }

    public static TheoryData<string, byte[]> DropsWithoutClose() => new()
    {
        { "idle", [] },
        { "after a message", RawConnection.Frame(0x1, "last words"u8) },
        { "in the middle of a frame header", [0x81, 0x7E, 0x01] },
        { "in the middle of a payload", RawConnection.Frame(0x2, new byte[300]).AsSpan(0, 100).ToArray() },
        { "in the middle of a fragmented message", RawConnection.Frame(0x1, "frag"u8, fin: false) },
        { "in the middle of a Close frame", RawConnection.Frame(0x8, RawConnection.ClosePayload(1000, "bye")).AsSpan(0, 4).ToArray() },
    };

    [Theory]
    [MemberData(nameof(DropsWithoutClose))]
    public async Task ServerEndsTcpWithoutClose_ReceiveThrowsClosedWith1006(string when, byte[] lastBytes)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        if (lastBytes.Length > 0)
        {
            await session.WriteAsync(lastBytes);
        }

        await session.Raw.DisposeAsync();

        if (when == "after a message")
        {
            await session.ExpectTextAsync("last words");
        }

        await ExpectLostAsync(session);
    }

    [Fact]
    public async Task ServerResetsTcp_PendingReceiveThrowsClosedWith1006()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        Task<WebSocketMessage> pending = session.ReceiveAsync();

        session.Raw.Abort();

        WebSocketClosedException error = await Assert.ThrowsAsync<WebSocketClosedException>(() => pending);
        Assert.Equal((WebSocketCloseStatus)1006, error.CloseStatus);
        await ExpectLostAsync(session);
    }

    [Fact]
    public async Task ClientAbort_EndsTcpWithoutCloseFrame()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        session.Client.Abort();

        await Assert.ThrowsAsync<EndOfStreamException>(() => session.Raw.ReadFrameAsync(TestTimeouts.Default, session.Token));
        await session.Client.Completion.WaitAsync(session.Token);

        // The idle receive loop was waiting on the socket with no cancellation token: closing the socket ended it.
        await session.Client.ReceiveLoop.WaitAsync(session.Token);
        WebSocketClosedException error = Assert.IsType<WebSocketClosedException>(session.Client.CloseError);
        Assert.Equal((WebSocketCloseStatus)1006, error.CloseStatus);
        Assert.False(error.ClosedByPeer);
    }

    [Fact]
    public async Task DisposeAsync_RunsACleanClose()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task dispose = session.Client.DisposeAsync().AsTask();
        RawCloseFrame sent = await session.ReadClientCloseAsync();
        await session.Raw.SendCloseAsync(1000, string.Empty, session.Token);
        session.Raw.ShutdownSend();
        await dispose.WaitAsync(session.Token);

        Assert.Equal((ushort)1000, sent.Code);
        Assert.Null(session.Client.CloseError);
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, session.Token));
    }

    [Theory]
    [InlineData(1005)]
    [InlineData(1006)]
    [InlineData(1015)]
    [InlineData(999)]
    [InlineData(5000)]
    public async Task CloseAsync_WithCodeNotAllowedOnTheWire_ThrowsAndSendsNothing(int code)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = session.Client.CloseAsync((WebSocketCloseStatus)code, null, session.Token); });
        Assert.Throws<ArgumentException>(() => { _ = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, new string('x', 124), session.Token); });

        // Nothing went out: the next client frame is the Pong for this Ping, and the connection is still open.
        await session.RoundTripPingAsync();
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        await session.CloseFromServerAsync();
    }

    private static async Task ExpectLostAsync(ConformanceSession session)
    {
        WebSocketClosedException error = await Assert.ThrowsAsync<WebSocketClosedException>(session.ReceiveAsync);
        Assert.Equal((WebSocketCloseStatus)1006, error.CloseStatus);
        Assert.True(error.ClosedByPeer);
        await session.Client.Completion.WaitAsync(session.Token);
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        WebSocketClosedException recorded = Assert.IsType<WebSocketClosedException>(session.Client.CloseError);
        Assert.Equal((WebSocketCloseStatus)1006, recorded.CloseStatus);
        Assert.Null(session.Client.LocalCloseStatus);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => session.Client.SendTextAsync("after the drop", session.Token).AsTask());
        await Assert.ThrowsAsync<WebSocketClosedException>(() => session.Client.PingAsync(default, session.Token).AsTask());
    }
}
