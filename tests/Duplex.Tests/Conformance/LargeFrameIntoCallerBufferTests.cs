using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Conformance;

/// <summary>
/// A <see cref="WebSocketConnection.ReceiveAsync"/> call with room waiting for a large frame reads the frame's
/// payload straight into the caller's buffer, as it arrives: the receive loop stops in the frame and hands the
/// socket over. These tests script the frame byte by byte and check that nothing is lost or altered whatever
/// the caller does meanwhile: cancels, switches to whole messages or a small buffer, stops reading while the
/// application closes, or the peer breaks the frame.
/// </summary>
public sealed class LargeFrameIntoCallerBufferTests
{
    private const int Size = 1024 * 1024;
    private const int FirstPart = Size / 2;

    [Fact]
    public async Task LargeFrame_ComesIntoTheCallersBufferInPiecesAsItArrives_Intact()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        // Everything sent so far is received before the rest of the frame exists.
        (byte[] payload, byte[] buffer, int total) = await StartFrameAsync(session);

        await session.WriteAsync(payload.AsMemory(FirstPart));
        await ExpectTheRestIntactAsync(session, payload, buffer, total);

        // The loop reads again after the frame: a Ping is answered, the next message arrives.
        await session.RoundTripPingAsync();
        await session.Raw.SendTextAsync("next", session.Token);
        await session.ExpectTextAsync("next");
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ReceiveCancelledWhileWaitingForTheRestOfALargeFrame_LosesNothing()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        (byte[] payload, byte[] buffer, int total) = await StartFrameAsync(session);

        using (var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => session.Client.ReceiveAsync(buffer.AsMemory(total), cancel.Token).AsTask());
        }

        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        await session.WriteAsync(payload.AsMemory(FirstPart));
        await ExpectTheRestIntactAsync(session, payload, buffer, total);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task WholeMessageReceive_AfterPiecesOfALargeFrame_GetsTheRestOfTheMessage()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        (byte[] payload, byte[] buffer, _) = await StartFrameAsync(session);

        Task<WebSocketMessage> rest = session.ReceiveAsync();
        await Task.Delay(50, session.Token);
        await session.WriteAsync(payload.AsMemory(FirstPart));
        WebSocketMessage message = await rest;
        Assert.Equal(WebSocketMessageType.Binary, message.MessageType);
        Assert.True(payload.AsSpan(FirstPart).SequenceEqual(message.Data.Span), "The rest of the message arrived altered.");
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task SmallBufferReceive_AfterPiecesOfALargeFrame_GetsTheRestInSmallPieces()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        (byte[] payload, byte[] buffer, int total) = await StartFrameAsync(session);

        Task write = session.WriteAsync(payload.AsMemory(FirstPart));
        ValueWebSocketReceiveResult result;
        do
        {
            int room = Math.Min(1024, Size - total);
            result = await ReceivePieceAsync(session, buffer.AsMemory(total, room));
            Assert.InRange(result.Count, 0, 1024);
            total += result.Count;
        }
        while (!result.EndOfMessage);

        await write.WaitAsync(session.Token);
        Assert.Equal(Size, total);
        Assert.True(payload.AsSpan().SequenceEqual(buffer), "The frame arrived altered.");
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task InvalidUtf8InTheDirectlyReadPartOfALargeTextFrame_FailsWith1007()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = Encoding.ASCII.GetBytes(new string('a', Size));
        payload[FirstPart + 1000] = 0xFF;
        byte[] buffer = new byte[Size];
        int total = await SendFirstPartAndReceiveItAsync(session, payload, buffer, opcode: 0x1);

        Task reader = Task.Run(async () =>
        {
            while (true)
            {
                total += (await session.Client.ReceiveAsync(buffer.AsMemory(total), session.Token)).Count;
            }
        });
        await session.WriteAsync(payload.AsMemory(FirstPart));

        WebSocketProtocolException error = await Assert.ThrowsAsync<WebSocketProtocolException>(() => reader.WaitAsync(session.Token));
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, error.CloseStatus);
        await session.ExpectFailedAsync(1007);
    }

    [Fact]
    public async Task PeerEndsTcpInTheMiddleOfALargeFrame_TheReceiveFailsAsALostConnection()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        (byte[] payload, byte[] buffer, int total) = await StartFrameAsync(session);

        Task<ValueWebSocketReceiveResult> waiting = session.Client.ReceiveAsync(buffer.AsMemory(total), session.Token).AsTask();
        await Task.Delay(50, session.Token);
        session.Raw.ShutdownSend();

        WebSocketClosedException error = await Assert.ThrowsAsync<WebSocketClosedException>(() => waiting.WaitAsync(session.Token));
        Assert.Equal((WebSocketCloseStatus)1006, error.CloseStatus); // no closing handshake
        await session.Client.Completion.WaitAsync(session.Token);
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.IsType<WebSocketClosedException>(session.Client.CloseError);
    }

    [Fact]
    public async Task CloseAsync_WhileTheReaderHasStoppedInALargeFrame_RunsTheWholeClosingHandshake()
    {
        // The application read part of a large frame and stopped reading; the peer's Close comes after the rest
        // of the frame, so the receive loop must take the frame back to see it.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        (byte[] payload, byte[] buffer, _) = await StartFrameAsync(session);

        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);
        RawCloseFrame ours = await session.ReadClientCloseAsync();
        Assert.Equal((ushort)1000, ours.Code);
        await session.WriteAsync(payload.AsMemory(FirstPart));
        await session.Raw.SendCloseAsync(1000, "ok", session.Token);
        session.Raw.ShutdownSend();

        await close.WaitAsync(session.Token);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, session.Client.RemoteCloseStatus);
        Assert.Equal("ok", session.Client.RemoteCloseStatusDescription);
        Assert.Null(session.Client.CloseError);
    }

    [Fact]
    public async Task PingAsync_WhileTheApplicationHoldsALargeFrameHalfRead_GetsItsPong_AndTheFrameStaysIntact()
    {
        // The Pong comes after the frame: the loop takes the frame back and reads on, so the Ping is answered even
        // though the application reads nothing meanwhile.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        (byte[] payload, byte[] buffer, int total) = await StartFrameAsync(session);

        Task<TimeSpan> ping = session.Client.PingAsync("half"u8.ToArray(), session.Token).AsTask();
        RawFrame sent = await session.ReadClientFrameAsync(0x9);
        await session.WriteAsync(payload.AsMemory(FirstPart));
        await session.Raw.SendFrameAsync(0xA, sent.Payload, cancellationToken: session.Token);
        Assert.True(await ping.WaitAsync(session.Token) >= TimeSpan.Zero);

        await ExpectTheRestIntactAsync(session, payload, buffer, total);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task PingAsync_WaitingBeforeALargeFrameArrives_GetsItsPong_WhileTheApplicationHoldsTheFrameHalfRead()
    {
        // The Ping was sent before the frame began, so it cannot take the frame back when it is called: the
        // loop must see it waiting and keep reading the frame itself.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        Task<TimeSpan> ping = session.Client.PingAsync("early"u8.ToArray(), session.Token).AsTask();
        RawFrame sent = await session.ReadClientFrameAsync(0x9);

        byte[] payload = RandomNumberGenerator.GetBytes(Size);
        byte[] buffer = new byte[Size];
        Task<ValueWebSocketReceiveResult> first = session.Client.ReceiveAsync(buffer, session.Token).AsTask();
        await WaitForTheReceiveToWaitAsync(session);
        await session.WriteAsync(RawConnection.FrameHeader(0x2, Size));
        await session.WriteAsync(payload.AsMemory(0, FirstPart));

        // Handed the frame, the receive would return the first half now and the application would read no more.
        await Task.WhenAny(first, Task.Delay(300, session.Token));
        await session.WriteAsync(payload.AsMemory(FirstPart));
        await session.Raw.SendFrameAsync(0xA, sent.Payload, cancellationToken: session.Token);
        Assert.True(await ping.WaitAsync(TestTimeouts.Default, session.Token) >= TimeSpan.Zero);

        ValueWebSocketReceiveResult result = await first.WaitAsync(TestTimeouts.Default, session.Token);
        if (result.EndOfMessage)
        {
            Assert.Equal(Size, result.Count);
            Assert.True(payload.AsSpan().SequenceEqual(buffer), "The frame arrived altered.");
        }
        else
        {
            await ExpectTheRestIntactAsync(session, payload, buffer, result.Count);
        }

        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ReaderThatBlocksOnAPingRightAfterTheFirstPieceOfALargeFrame_GetsThePong()
    {
        // The first piece may be delivered on the receive loop's thread while the loop waits for the frame to come
        // back: code that blocks there must not hold up the loop once the Ping hands the frame back.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = RandomNumberGenerator.GetBytes(Size);
        byte[] buffer = new byte[Size];
        Task<int> reader = Task.Run(async () =>
        {
            ValueWebSocketReceiveResult first = await session.Client.ReceiveAsync(buffer, session.Token).ConfigureAwait(false);
#pragma warning disable xUnit1031, CA2012 // Blocking on purpose: this is what the test is about.
            session.Client.PingAsync("blocked"u8.ToArray(), session.Token).AsTask().GetAwaiter().GetResult();
#pragma warning restore xUnit1031, CA2012
            return first.Count;
        });

        await WaitForTheReceiveToWaitAsync(session);
        await session.WriteAsync(RawConnection.FrameHeader(0x2, Size));
        await session.WriteAsync(payload.AsMemory(0, FirstPart));
        RawFrame ping = await session.ReadClientFrameAsync(0x9);
        await session.WriteAsync(payload.AsMemory(FirstPart));
        await session.Raw.SendFrameAsync(0xA, ping.Payload, cancellationToken: session.Token);

        int total = await reader.WaitAsync(session.Token);
        Assert.InRange(total, 1, FirstPart);
        await ExpectTheRestIntactAsync(session, payload, buffer, total);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task KeepAlive_WhileAReceiveWaitsInALargeFrameAndThePeerFallsSilent_FailsWith1011()
    {
        // The receive call is reading the socket: a Pong that does not come means a dead peer, as when the loop reads.
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
            o.KeepAliveTimeout = TimeSpan.FromMilliseconds(300);
        });
        (byte[] payload, byte[] buffer, int total) = await StartFrameAsync(session);
        Task<ValueWebSocketReceiveResult> waiting = session.Client.ReceiveAsync(buffer.AsMemory(total), session.Token).AsTask();

        RawCloseFrame close = await session.Raw.ReadCloseFrameAsync(TestTimeouts.Default, skipOtherFrames: true, session.Token);
        Assert.Equal((ushort)1011, close.Code);
        WebSocketClosedException error = await Assert.ThrowsAsync<WebSocketClosedException>(() => waiting.WaitAsync(session.Token));
        Assert.Equal(WebSocketCloseStatus.InternalServerError, error.CloseStatus);
        await session.Client.Completion.WaitAsync(session.Token);
    }

    [Fact]
    public async Task KeepAlive_WhileTheApplicationHoldsALargeFrameUnread_IsPostponedNotFailed()
    {
        // Nobody reads until the application calls again: backpressure, not a dead peer. On a fake clock, so that
        // moving a large frame on a loaded machine cannot eat into a real Pong deadline.
        var time = new FakeTimeProvider();
        TimeSpan interval = TimeSpan.FromSeconds(1);
        TimeSpan pongTimeout = TimeSpan.FromSeconds(1);
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.KeepAliveInterval = interval;
            o.KeepAliveTimeout = pongTimeout;
        });
        (byte[] payload, byte[] buffer, int total) = await StartFrameAsync(session);
        Assert.True(session.Client.ReceivePaused);

        time.Advance(interval);
        RawFrame ping = await session.ReadClientFrameAsync(0x9);
        for (int i = 0; i < 4; i++)
        {
            time.Advance(pongTimeout);
        }

        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);

        // The Pong can only follow the frame.
        await session.WriteAsync(payload.AsMemory(FirstPart));
        await session.Raw.SendFrameAsync(0xA, ping.Payload, cancellationToken: session.Token);
        await ExpectTheRestIntactAsync(session, payload, buffer, total);
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
    }

    [Fact]
    public async Task KeepAlive_OnceTheApplicationReadsOnAfterHoldingAFrame_GivesThePongAWholeTimeout()
    {
        // While the frame waited unread the keepalive was postponed, the Ping long overdue. The Pong sits behind the
        // rest of the frame: when the application reads on, the first keepalive check must not fail the connection
        // in the middle of that reading. A fake clock puts that check exactly there.
        var time = new FakeTimeProvider();
        TimeSpan interval = TimeSpan.FromSeconds(1);
        TimeSpan timeout = TimeSpan.FromSeconds(1);
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.KeepAliveInterval = interval;
            o.KeepAliveTimeout = timeout;
        });
        (byte[] payload, byte[] buffer, int total) = await StartFrameAsync(session);
        Assert.True(session.Client.ReceivePaused);

        time.Advance(interval);
        RawFrame ping = await session.ReadClientFrameAsync(0x9);
        time.Advance(timeout);
        time.Advance(timeout);
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);

        // The application reads on; nothing more has arrived yet, so its receive call waits on the socket.
        Task rest = ExpectTheRestIntactAsync(session, payload, buffer, total);
        while (session.Client.ReceivePaused)
        {
            await Task.Delay(5, session.Token);
        }

        time.Advance(timeout);
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);

        await session.WriteAsync(payload.AsMemory(FirstPart));
        await session.Raw.SendFrameAsync(0xA, ping.Payload, cancellationToken: session.Token);
        await rest;
        await session.RoundTripPingAsync();
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
    }

    /// <summary>Starts a 1 MiB binary frame of random bytes and receives its first half (see <see cref="SendFirstPartAndReceiveItAsync"/>).</summary>
    private static async Task<(byte[] Payload, byte[] Buffer, int Received)> StartFrameAsync(ConformanceSession session)
    {
        byte[] payload = RandomNumberGenerator.GetBytes(Size);
        byte[] buffer = new byte[Size];
        return (payload, buffer, await SendFirstPartAndReceiveItAsync(session, payload, buffer));
    }

    /// <summary>
    /// Starts a 1 MiB frame (binary unless <paramref name="opcode"/> says otherwise) while a receive waits, sends its
    /// first half, and receives that half into the caller's buffer before the rest exists.
    /// </summary>
    private static async Task<int> SendFirstPartAndReceiveItAsync(ConformanceSession session, byte[] payload, byte[] buffer, byte opcode = 0x2)
    {
        Task<ValueWebSocketReceiveResult> first = session.Client.ReceiveAsync(buffer, session.Token).AsTask();
        await WaitForTheReceiveToWaitAsync(session);
        await session.WriteAsync(RawConnection.FrameHeader(opcode, (ulong)payload.Length));
        await session.WriteAsync(payload.AsMemory(0, FirstPart));
        ValueWebSocketReceiveResult result = await first.WaitAsync(TestTimeouts.Default, session.Token);
        int total = result.Count;
        while (total < FirstPart)
        {
            Assert.False(result.EndOfMessage);
            result = await ReceivePieceAsync(session, buffer.AsMemory(total));
            total += result.Count;
        }

        Assert.Equal(FirstPart, total);
        Assert.False(result.EndOfMessage);
        Assert.Equal(opcode == 0x1 ? WebSocketMessageType.Text : WebSocketMessageType.Binary, result.MessageType);
        return total;
    }

    /// <summary>
    /// Waits until the receive call just started is waiting with its room, so the frame's first bytes arrive while it
    /// waits (a loaded machine can take longer than any fixed delay to get there).
    /// </summary>
    private static async Task WaitForTheReceiveToWaitAsync(ConformanceSession session)
    {
        while (session.Client.WaitingReceiveRoom == 0)
        {
            await Task.Delay(5, session.Token);
        }
    }

    /// <summary>
    /// Receives pieces into the rest of <paramref name="buffer"/> until the end of the message, and checks that the
    /// whole payload arrived intact.
    /// </summary>
    private static async Task ExpectTheRestIntactAsync(ConformanceSession session, byte[] payload, byte[] buffer, int total)
    {
        ValueWebSocketReceiveResult result;
        do
        {
            result = await ReceivePieceAsync(session, buffer.AsMemory(total));
            total += result.Count;
        }
        while (!result.EndOfMessage);

        Assert.Equal(Size, total);
        Assert.True(payload.AsSpan().SequenceEqual(buffer), "The frame arrived altered.");
    }

    private static Task<ValueWebSocketReceiveResult> ReceivePieceAsync(ConformanceSession session, Memory<byte> buffer) =>
        session.Client.ReceiveAsync(buffer, session.Token).AsTask().WaitAsync(TestTimeouts.Default, session.Token);
}
