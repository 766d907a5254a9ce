using System.Buffers.Binary;
using System.Net.WebSockets;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Conformance;

/// <summary>
/// The client's own Pings over the wire (not an Autobahn category, but the same style): keepalive Pings carry a
/// payload and a silent server is failed with 1011; a server that answers keeps the connection open;
/// <see cref="WebSocketConnection.PingAsync"/> completes on the matching Pong, and a Pong for a later Ping
/// acknowledges earlier ones (RFC 6455 §5.5.3). Short real intervals; these tests assert protocol behaviour, never
/// speed.
/// </summary>
public sealed class KeepAliveAndPingTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan PongTimeout = TimeSpan.FromMilliseconds(300);

    // For the tests whose server answers every Ping: the test must only answer, never beat a real 300 ms
    // deadline on a loaded machine.
    private static readonly TimeSpan AnsweredPongTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task KeepAlive_ServerNeverAnswers_PingThenClose1011AndClosedError()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.KeepAliveInterval = Interval;
            o.KeepAliveTimeout = PongTimeout;
        });

        // At most one keepalive Ping is outstanding: the next frame after it is the Close.
        RawFrame ping = await session.ReadClientFrameAsync(0x9);
        RawCloseFrame close = await session.ReadClientCloseAsync();

        Assert.NotEmpty(ping.Payload);
        Assert.Equal((ushort)1011, close.Code);
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, session.Token), "The client did not close the socket.");
        await session.Client.Completion.WaitAsync(session.Token);
        WebSocketClosedException error = Assert.IsType<WebSocketClosedException>(session.Client.CloseError);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, error.CloseStatus);
        Assert.False(error.ClosedByPeer);
        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, session.Client.LocalCloseStatus);

        // The application learns it from receive, as a closed connection with the code that was sent.
        WebSocketClosedException received = await Assert.ThrowsAsync<WebSocketClosedException>(session.ReceiveAsync);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, received.CloseStatus);
    }

    [Fact]
    public async Task KeepAlive_LinkStalled_TheConnectionEndsOneSecondAfterTheTimeout_NotAfterTheCloseTimeout()
    {
        // Nothing the client writes reaches the network, so its Close cannot be written either: the
        // connection must end soon after the keepalive timeout, not after waiting out the close timeout.
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.KeepAliveInterval = TimeSpan.FromSeconds(1);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(1);
            o.CloseTimeout = TimeSpan.FromSeconds(10);
            o.Transport = new WrappingTransport(inner => new StallingWriteStream(inner));
        });

        time.Advance(TimeSpan.FromSeconds(1)); // the keepalive Ping, which never leaves
        time.Advance(TimeSpan.FromSeconds(1)); // its deadline: the connection is failed
        Assert.False(session.Client.Completion.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        Assert.False(session.Client.Completion.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));

        await session.Client.Completion.WaitAsync(session.Token);
        WebSocketClosedException error = Assert.IsType<WebSocketClosedException>(session.Client.CloseError);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, error.CloseStatus);
        Assert.IsType<TimeoutException>(error.InnerException);
    }

    [Fact]
    public async Task KeepAlive_ServerAnswers_ConnectionStaysOpenAcrossSeveralIntervals()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.KeepAliveInterval = Interval;
            o.KeepAliveTimeout = AnsweredPongTimeout;
        });
        var payloads = new List<byte[]>();

        // Five intervals, each Ping answered: well past the point where a silent server was failed above.
        for (int i = 0; i < 5; i++)
        {
            RawFrame ping = await session.ReadClientFrameAsync(0x9);
            payloads.Add(ping.Payload);
            await session.Raw.SendFrameAsync(0xA, ping.Payload, cancellationToken: session.Token);
        }

        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        Assert.Null(session.Client.CloseError);
        Assert.NotNull(session.Client.LastRoundTripTime);
        Assert.All(payloads, p => Assert.NotEmpty(p));
        Assert.Equal(payloads.Count, payloads.Select(Convert.ToHexString).Distinct().Count());

        // Messages still flow both ways.
        await session.Raw.SendTextAsync("still here", session.Token);
        await session.ExpectTextAsync("still here");
        await session.Client.SendTextAsync("me too", session.Token);
        RawFrame reply = await ReadAnsweringKeepAliveAsync(session);
        Assert.Equal(0x1, reply.Opcode);
        Assert.Equal("me too", reply.Text);
        await CloseAnsweringKeepAliveAsync(session);
    }

    [Fact]
    public async Task PingAsync_CompletesWhenTheMatchingPongArrives()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = "are you there?"u8.ToArray();

        Task<TimeSpan> ping = session.Client.PingAsync(payload, session.Token).AsTask();
        RawFrame sent = await session.ReadClientFrameAsync(0x9);

        Assert.Equal(payload, sent.Payload);
        Assert.False(ping.IsCompleted, "PingAsync completed before any Pong was sent.");

        await session.Raw.SendFrameAsync(0xA, payload, cancellationToken: session.Token);
        TimeSpan roundTrip = await ping.WaitAsync(session.Token);

        Assert.True(roundTrip >= TimeSpan.Zero);
        Assert.Equal(roundTrip, session.Client.LastRoundTripTime);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task PingAsync_PongWithOtherPayload_DoesNotComplete()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task<TimeSpan> ping = session.Client.PingAsync("mine"u8.ToArray(), session.Token).AsTask();
        await session.ReadClientFrameAsync(0x9);
        await session.Raw.SendFrameAsync(0xA, "someone else's"u8.ToArray(), cancellationToken: session.Token);

        // The round trip proves the client processed that Pong; the Ping is still waiting.
        await session.RoundTripPingAsync();
        Assert.False(ping.IsCompleted);

        await session.Raw.SendFrameAsync(0xA, "mine"u8.ToArray(), cancellationToken: session.Token);
        await ping.WaitAsync(session.Token);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task PingAsync_PongForALaterPing_AcknowledgesEarlierOnes()
    {
        // RFC 6455 §5.5.3: an endpoint "MAY elect to send a Pong frame for only the most recently processed Ping".
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task<TimeSpan> first = session.Client.PingAsync("first"u8.ToArray(), session.Token).AsTask();
        Task<TimeSpan> second = session.Client.PingAsync("second"u8.ToArray(), session.Token).AsTask();
        Task<TimeSpan> third = session.Client.PingAsync("third"u8.ToArray(), session.Token).AsTask();
        Assert.Equal("first", (await session.ReadClientFrameAsync(0x9)).Text);
        Assert.Equal("second", (await session.ReadClientFrameAsync(0x9)).Text);
        Assert.Equal("third", (await session.ReadClientFrameAsync(0x9)).Text);

        await session.Raw.SendFrameAsync(0xA, "second"u8.ToArray(), cancellationToken: session.Token);
        await Task.WhenAll(first, second).WaitAsync(session.Token);
        await session.RoundTripPingAsync();
        Assert.False(third.IsCompleted);

        await session.Raw.SendFrameAsync(0xA, "third"u8.ToArray(), cancellationToken: session.Token);
        await third.WaitAsync(session.Token);
        await session.CloseFromServerAsync();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    public async Task PingAsync_PayloadUpTo125Bytes_GoesOutAsIs(int length)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = [.. Enumerable.Range(0, length).Select(i => (byte)(i * 7))];

        Task<TimeSpan> ping = session.Client.PingAsync(payload, session.Token).AsTask();
        RawFrame sent = await session.ReadClientFrameAsync(0x9);
        await session.Raw.SendFrameAsync(0xA, sent.Payload, cancellationToken: session.Token);
        await ping.WaitAsync(session.Token);

        Assert.Equal(payload, sent.Payload);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task PingAsync_126Bytes_ThrowsArgumentExceptionAndSendsNothing()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => session.Client.PingAsync(new byte[126], session.Token).AsTask());

        // The next frame the client sends is the Pong for this Ping: no Ping went out.
        await session.RoundTripPingAsync();
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task PingAsync_ConnectionDropsBeforeThePong_ThrowsClosed()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Task<TimeSpan> ping = session.Client.PingAsync("lost"u8.ToArray(), session.Token).AsTask();
        await session.ReadClientFrameAsync(0x9);
        await session.Raw.DisposeAsync();

        WebSocketClosedException error = await Assert.ThrowsAsync<WebSocketClosedException>(() => ping.WaitAsync(session.Token));
        Assert.Equal((WebSocketCloseStatus)1006, error.CloseStatus);
    }

    [Fact]
    public async Task PingAsync_Canceled_LeavesTheConnectionOpenAndALatePongIsIgnored()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        using var cancel = new CancellationTokenSource();

        Task<TimeSpan> ping = session.Client.PingAsync("slow"u8.ToArray(), cancel.Token).AsTask();
        await session.ReadClientFrameAsync(0x9);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ping.WaitAsync(session.Token));

        await session.Raw.SendFrameAsync(0xA, "slow"u8.ToArray(), cancellationToken: session.Token);
        await session.RoundTripPingAsync();
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task KeepAlivePing_IsAcknowledgedByAPongForALaterApplicationPing()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.KeepAliveInterval = Interval;
            o.KeepAliveTimeout = AnsweredPongTimeout;
        });

        RawFrame keepAlive = await session.ReadClientFrameAsync(0x9);
        Task<TimeSpan> ping = session.Client.PingAsync("app"u8.ToArray(), session.Token).AsTask();
        RawFrame application = await session.ReadClientFrameAsync(0x9);
        Assert.Equal("app", application.Text);
        Assert.Equal(4, keepAlive.Payload.Length);

        // Answering only the later Ping covers the keepalive one: no 1011, the next keepalive Ping follows.
        await session.Raw.SendFrameAsync(0xA, application.Payload, cancellationToken: session.Token);
        await ping.WaitAsync(session.Token);
        RawFrame next = await session.ReadClientFrameAsync(0x9);
        Assert.Equal(BinaryPrimitives.ReadInt32BigEndian(keepAlive.Payload) + 1, BinaryPrimitives.ReadInt32BigEndian(next.Payload));
        await session.Raw.SendFrameAsync(0xA, next.Payload, cancellationToken: session.Token);
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        await CloseAnsweringKeepAliveAsync(session);
    }

    [Fact]
    public async Task KeepAlive_PongProcessedBeforeThePingIsRecorded_KeepsPinging()
    {
        // A peer that answers before the keepalive timer has recorded its Ping must not stop keepalive for good.
        HeldWriteStream? stream = null;
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.KeepAliveInterval = Interval;
            o.KeepAliveTimeout = AnsweredPongTimeout;
            o.Transport = new WrappingTransport(inner => stream = new HeldWriteStream(inner, heldFirstByte: 0x89));
        });

        RawFrame first = await session.ReadClientFrameAsync(0x9);
        await session.Raw.SendFrameAsync(0xA, first.Payload, cancellationToken: session.Token);

        // Several intervals later there must have been a next Ping (bounded, never a speed assertion).
        RawFrame second = await session.ReadClientFrameAsync(TestTimeouts.Short);
        Assert.True(stream!.Held, "The test did not reproduce a Pong processed before the Ping write returned.");
        Assert.Equal(0x9, second.Opcode);
        Assert.Equal(BinaryPrimitives.ReadInt32BigEndian(first.Payload) + 1, BinaryPrimitives.ReadInt32BigEndian(second.Payload));
        await session.Raw.SendFrameAsync(0xA, second.Payload, cancellationToken: session.Token);
        RawFrame third = await session.ReadClientFrameAsync(TestTimeouts.Short);
        Assert.Equal(0x9, third.Opcode);
        await session.Raw.SendFrameAsync(0xA, third.Payload, cancellationToken: session.Token);
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        await CloseAnsweringKeepAliveAsync(session);
    }

    [Fact]
    public async Task KeepAlive_PongDeadlineWhileTheApplicationIsBehind_IsPostponedNotFailed()
    {
        // With the receive queue full the client stops reading the socket, so the Pong may be sitting behind
        // unread messages: that is backpressure, not a dead peer, and must not be failed with 1011. On a fake
        // clock, so that filling the queue on a loaded machine cannot race a real Pong deadline.
        var time = new FakeTimeProvider();
        TimeSpan interval = TimeSpan.FromSeconds(1);
        TimeSpan timeout = TimeSpan.FromSeconds(1);
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.KeepAliveInterval = interval;
            o.KeepAliveTimeout = timeout;
            o.ReceiveQueueCapacity = 1;
        });

        // Separate writes, so they arrive as separate reads: one fills the queue, the next one waits for room.
        for (int i = 0; i < 4; i++)
        {
            await session.Raw.SendTextAsync($"unread {i}", session.Token);
            await Task.Delay(100, session.Token);
        }

        await Task.Run(() => Assert.True(SpinWait.SpinUntil(() => session.Client.ReceivePaused, TestTimeouts.Default)), session.Token);
        time.Advance(interval);
        RawFrame ping = await session.ReadClientFrameAsync(0x9);

        // Several Pong deadlines pass while the application reads nothing: the connection stays open.
        for (int i = 0; i < 4; i++)
        {
            time.Advance(timeout);
        }

        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);

        // The Pong arrives behind the unread messages; once the application reads, everything is delivered.
        await session.Raw.SendFrameAsync(0xA, ping.Payload, cancellationToken: session.Token);
        for (int i = 0; i < 4; i++)
        {
            await session.ExpectTextAsync($"unread {i}");
        }

        // The Ping was acknowledged (the Pong is in once a Ping of the server's is answered) and keepalive goes on.
        await session.RoundTripPingAsync();
        time.Advance(interval);
        RawFrame next = await session.ReadClientFrameAsync(0x9);
        Assert.Equal(BinaryPrimitives.ReadInt32BigEndian(ping.Payload) + 1, BinaryPrimitives.ReadInt32BigEndian(next.Payload));
        await session.Raw.SendFrameAsync(0xA, next.Payload, cancellationToken: session.Token);
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        Assert.NotNull(session.Client.LastRoundTripTime);
        await CloseAnsweringKeepAliveAsync(session);
    }

    [Fact]
    public async Task KeepAlive_WithoutPongTimeout_WaitsForTheAnswerBeforeTheNextPing()
    {
        // KeepAliveTimeout infinite: an unanswered Ping never fails the connection, and no second Ping is sent
        // while the first is outstanding (at most one keepalive Ping in flight).
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.KeepAliveInterval = Interval;
            o.KeepAliveTimeout = Timeout.InfiniteTimeSpan;
        });

        RawFrame first = await session.ReadClientFrameAsync(0x9);
        await Assert.ThrowsAsync<TimeoutException>(() => session.ReadClientFrameAsync(Interval * 4));
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);

        await session.Raw.SendFrameAsync(0xA, first.Payload, cancellationToken: session.Token);
        RawFrame second = await session.ReadClientFrameAsync(0x9);
        Assert.Equal(BinaryPrimitives.ReadInt32BigEndian(first.Payload) + 1, BinaryPrimitives.ReadInt32BigEndian(second.Payload));
        await session.Raw.SendFrameAsync(0xA, second.Payload, cancellationToken: session.Token);
        await CloseAnsweringKeepAliveAsync(session);
    }

    [Fact]
    public async Task ReaderThatBlocksOnAPingRightAfterReceiving_IsAnswered_TheReceiveLoopGoesOn()
    {
        // Code that continues right after a receive and blocks synchronously on something only the receive loop can
        // deliver — here the Pong — must still get it: the application never holds up the receive loop.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        Task<TimeSpan> reader = Task.Run(async () =>
        {
            WebSocketMessage message = await session.Client.ReceiveMessageAsync(session.Token).ConfigureAwait(false);
            Assert.Equal("go", message.Text);
#pragma warning disable xUnit1031, CA2012 // Blocking on purpose: this is what the test is about.
            return session.Client.PingAsync("blocked"u8.ToArray(), session.Token).AsTask().GetAwaiter().GetResult();
#pragma warning restore xUnit1031, CA2012
        });

        // Let the receive start waiting, so the message wakes a waiting reader.
        await Task.Delay(100, session.Token);
        await session.Raw.SendTextAsync("go", session.Token);
        RawFrame ping = await session.ReadClientFrameAsync(0x9);
        Assert.Equal("blocked", ping.Text);
        await session.Raw.SendFrameAsync(0xA, ping.Payload, cancellationToken: session.Token);

        TimeSpan rtt = await reader.WaitAsync(session.Token);
        Assert.True(rtt >= TimeSpan.Zero);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ReaderThatBlocksRightAfterReceiving_TheLoopStillAnswersPings_AndQueuesWhatFollows()
    {
        // A receive woken when the socket is drained continues on the thread that ran the receive loop; the loop has
        // moved on by then. While that code blocks, the peer's Ping is answered and later messages are queued.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        using var release = new ManualResetEventSlim();
        Task<string> reader = Task.Run(async () =>
        {
            WebSocketMessage first = await session.Client.ReceiveMessageAsync(session.Token).ConfigureAwait(false);
            Assert.True(release.Wait(TestTimeouts.Default), "The test never released the reader.");
            WebSocketMessage second = await session.Client.ReceiveMessageAsync(session.Token).ConfigureAwait(false);
            return first.Text + second.Text;
        });

        await Task.Delay(100, session.Token);
        await session.Raw.SendTextAsync("one", session.Token);
        await Task.Delay(50, session.Token);
        await session.Raw.SendFrameAsync(0x9, "still there?"u8.ToArray(), cancellationToken: session.Token);
        RawFrame pong = await session.ReadClientFrameAsync(0xA);
        Assert.Equal("still there?", pong.Text);
        await session.Raw.SendTextAsync("two", session.Token);
        release.Set();

        Assert.Equal("onetwo", await reader.WaitAsync(session.Token));
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ReaderThatWaitsSynchronouslyForTheNextMessage_RightAfterReceiving_GetsIt()
    {
        // Sync-over-async on the next receive, from the continuation of the previous one: the next message must
        // still be read and delivered, for several messages in a row.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        Task<string> reader = Task.Run(async () =>
        {
            WebSocketMessage first = await session.Client.ReceiveMessageAsync(session.Token).ConfigureAwait(false);
            string text = first.Text!;
            for (int i = 0; i < 3; i++)
            {
#pragma warning disable xUnit1031, CA2012 // Blocking on purpose: this is what the test is about.
                text += session.Client.ReceiveMessageAsync(session.Token).AsTask().GetAwaiter().GetResult().Text;
#pragma warning restore xUnit1031, CA2012
            }

            return text;
        });

        await Task.Delay(100, session.Token);
        foreach (string part in new[] { "a", "b", "c", "d" })
        {
            await session.Raw.SendTextAsync(part, session.Token);
            await Task.Delay(20, session.Token);
        }

        Assert.Equal("abcd", await reader.WaitAsync(session.Token));
        await session.CloseFromServerAsync();
    }

    /// <summary>Reads the client's next frame that is not a keepalive Ping, answering the Pings met on the way.</summary>
    private static async Task<RawFrame> ReadAnsweringKeepAliveAsync(ConformanceSession session)
    {
        while (true)
        {
            RawFrame frame = await session.ReadClientFrameAsync();
            if (frame.Opcode != 0x9)
            {
                return frame;
            }

            await session.Raw.SendFrameAsync(0xA, frame.Payload, cancellationToken: session.Token);
        }
    }

    /// <summary>A clean server-initiated close while keepalive Pings may still be crossing it.</summary>
    private static async Task CloseAnsweringKeepAliveAsync(ConformanceSession session)
    {
        await session.Raw.SendCloseAsync(1000, "done", session.Token);
        RawFrame echo = await ReadAnsweringKeepAliveAsync(session);
        Assert.Equal(0x8, echo.Opcode);
        Assert.Equal(RawConnection.ClosePayload(1000), echo.Payload);
        session.Raw.ShutdownSend();
        Assert.True((await session.ReceiveAsync()).IsClose);
        Assert.Null(session.Client.CloseError);
    }
}
