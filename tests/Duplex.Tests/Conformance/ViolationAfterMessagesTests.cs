using System.Net.WebSockets;
using Duplex.Client;
using Duplex.Connection;
using Duplex.Tests.Client;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Conformance;

/// <summary>
/// A frame that breaks the protocol right behind a good message (Autobahn 3.x, 4.x, 5.15, 6.x): the good message is
/// delivered and the application can answer it; the connection fails with the violation's code (RFC 6455 §7.1.7) when
/// the application comes back for more, or after the close timeout. Our Close follows the application's reply, nothing
/// after the violating frame is processed (a Ping there gets no Pong), and the client then waits for the server to end
/// TCP first (§7.1.1), bounded by the close timeout. Time is a <see cref="FakeTimeProvider"/>: no deadline passes unless
/// a test advances it.
/// </summary>
public sealed class ViolationAfterMessagesTests
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How the server's bytes reach the client.</summary>
    public enum Delivery
    {
        /// <summary>The good message and the bad frame in one TCP write.</summary>
        OneWrite,

        /// <summary>The good message, then the bad frame in a second write.</summary>
        TwoWrites,

        /// <summary>Every octet in its own write.</summary>
        OctetByOctet,
    }

    public static TheoryData<string, Delivery> Violations()
    {
        var data = new TheoryData<string, Delivery>();
        foreach (string violation in new[] { "rsv", "data-opcode", "control-opcode", "continuation-without-start", "data-inside-fragmented", "fragmented-control", "utf8" })
        {
            foreach (Delivery delivery in Enum.GetValues<Delivery>())
            {
                data.Add(violation, delivery);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Violations))]
    public async Task GoodMessageThenViolation_ReplyGoesOutBeforeTheClose_ThenReceiveThrows_AndTheServerClosesTcpFirst(string violation, Delivery delivery)
    {
        await using ConformanceSession session = await OpenAsync(new FakeTimeProvider());
        (byte[] bad, ushort code) = BadFrame(violation);
        await WriteAsync(session, RawConnection.Frame(0x1, "question"u8), [.. bad, .. NeverProcessed()], delivery);

        await session.ExpectTextAsync("question");
        await session.Client.SendTextAsync("answer", session.Token);
        Assert.Equal("answer", (await session.ReadClientFrameAsync(0x1)).Text);

        WebSocketProtocolException error = await Assert.ThrowsAsync<WebSocketProtocolException>(session.ReceiveAsync);
        Assert.Equal((WebSocketCloseStatus)code, error.CloseStatus);

        // The Close comes next: the Ping behind the violating frame got no Pong.
        RawCloseFrame close = await session.ReadClientCloseAsync();
        Assert.Equal(code, close.Code);
        int receivedAtClose = session.Raw.ReceivedBytes.Length;

        // RFC 6455 §7.1.1: the server closes TCP first; the client waits for that.
        Assert.False(await session.Raw.WaitForEndOfStreamAsync(TimeSpan.FromMilliseconds(100), session.Token), "The client closed TCP before the server did.");
        Assert.False(session.Client.Completion.IsCompleted);
        session.Raw.ShutdownSend();
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, session.Token));
        await session.Client.Completion.WaitAsync(session.Token);

        Assert.Equal(receivedAtClose, session.Raw.ReceivedBytes.Length);
        Assert.Equal((WebSocketCloseStatus)code, Assert.IsType<WebSocketProtocolException>(session.Client.CloseError).CloseStatus);
        Assert.Equal((WebSocketCloseStatus)code, (await Assert.ThrowsAsync<WebSocketProtocolException>(session.ReceiveAsync)).CloseStatus);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => session.Client.SendTextAsync("too late", session.Token).AsTask());
    }

    [Theory]
    [InlineData("rsv")]
    [InlineData("utf8")]
    public async Task AfterTheClose_ServerNeverClosesTcp_ClientEndsAtTheCloseTimeout(string violation)
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await OpenAsync(time);
        (byte[] bad, ushort code) = BadFrame(violation);
        await session.WriteAsync([.. RawConnection.Frame(0x1, "question"u8), .. bad]);

        await session.ExpectTextAsync("question");
        await Assert.ThrowsAsync<WebSocketProtocolException>(session.ReceiveAsync);
        Assert.Equal(code, (await session.ReadClientCloseAsync()).Code);

        // The wait for the server's end of TCP started when the Close was queued.
        time.Advance(CloseTimeout - TimeSpan.FromTicks(1));
        Assert.False(await session.Raw.WaitForEndOfStreamAsync(TimeSpan.FromMilliseconds(100), session.Token), "The client closed TCP before the close timeout.");
        Assert.False(session.Client.Completion.IsCompleted);
        time.Advance(TimeSpan.FromTicks(1));

        await session.Client.Completion.WaitAsync(session.Token);
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, session.Token));
        Assert.Equal((WebSocketCloseStatus)code, Assert.IsType<WebSocketProtocolException>(session.Client.CloseError).CloseStatus);
    }

    [Fact]
    public async Task ApplicationNeverReads_FailsAtTheCloseTimeout_QueuedMessagesStayReadable()
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await OpenAsync(time);
        await session.WriteAsync([.. RawConnection.Frame(0x1, "one"u8), .. RawConnection.Frame(0x1, "two"u8), .. BadFrame("rsv").Bytes, .. NeverProcessed()]);

        // Paused: the receive loop has seen the violation and armed its deadline.
        await ClientTestKit.WaitUntilAsync(() => session.Client.ReceivePaused, "the receive loop holds the violation");
        time.Advance(CloseTimeout - TimeSpan.FromTicks(1));
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        Assert.Null(session.Client.LocalCloseStatus);
        Assert.Null(session.Client.CloseError);

        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(WebSocketCloseStatus.ProtocolError, session.Client.LocalCloseStatus);
        Assert.Equal((ushort)1002, (await session.ReadClientCloseAsync()).Code);

        await session.ExpectTextAsync("one");
        await session.ExpectTextAsync("two");
        await EndAsync(session, 1002);
    }

    [Fact]
    public async Task KeepAlive_WhileTheViolationWaitsForTheApplication_DoesNotFailTheConnection()
    {
        // Nobody reads the socket while the violation waits, so the server's Pong could not be seen: the keepalive
        // deadline is postponed, and the connection fails for the violation, with 1002, at the close timeout.
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await OpenAsync(time, o =>
        {
            o.KeepAliveInterval = TimeSpan.FromSeconds(1);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(1);
        });
        await session.WriteAsync([.. RawConnection.Frame(0x1, "unread"u8), .. BadFrame("control-opcode").Bytes]);
        await ClientTestKit.WaitUntilAsync(() => session.Client.ReceivePaused, "the receive loop holds the violation");

        for (int second = 1; second < CloseTimeout.TotalSeconds; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            if (second == 1)
            {
                await session.ReadClientFrameAsync(0x9);
            }

            Assert.Null(session.Client.LocalCloseStatus);
        }

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal((ushort)1002, (await session.ReadClientCloseAsync()).Code);
        await session.ExpectTextAsync("unread");
        await EndAsync(session, 1002);
    }

    [Fact]
    public async Task ReceiveAsyncIntoABuffer_RepliesBeforeTheClose_ThenThrows()
    {
        await using ConformanceSession session = await OpenAsync(new FakeTimeProvider());
        await session.WriteAsync([.. RawConnection.Frame(0x1, "question"u8), .. BadFrame("fragmented-control").Bytes, .. NeverProcessed()]);

        var buffer = new byte[64];
        ValueWebSocketReceiveResult result = await session.Client.ReceiveAsync(buffer, session.Token);
        Assert.True(result.EndOfMessage);
        Assert.Equal("question"u8.ToArray(), buffer[..result.Count]);
        await session.Client.SendTextAsync("answer", session.Token);
        Assert.Equal("answer", (await session.ReadClientFrameAsync(0x1)).Text);

        await Assert.ThrowsAsync<WebSocketProtocolException>(() => session.Client.ReceiveAsync(buffer, session.Token).AsTask());
        Assert.Equal((ushort)1002, (await session.ReadClientCloseAsync()).Code);
        session.Raw.ShutdownSend();
        await session.Client.Completion.WaitAsync(session.Token);
    }

    [Fact]
    public async Task CloseAsync_WhileTheViolationWaits_FailsWithItsCode()
    {
        await using ConformanceSession session = await OpenAsync(new FakeTimeProvider());
        await session.WriteAsync([.. RawConnection.Frame(0x1, "unread"u8), .. BadFrame("utf8").Bytes]);
        await ClientTestKit.WaitUntilAsync(() => session.Client.ReceivePaused, "the receive loop holds the violation");

        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);
        Assert.Equal((ushort)1007, (await session.ReadClientCloseAsync()).Code);
        session.Raw.ShutdownSend();
        await close.WaitAsync(session.Token);

        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, Assert.IsType<WebSocketProtocolException>(session.Client.CloseError).CloseStatus);
    }

    [Fact]
    public async Task Client_HandlerRepliesToTheGoodMessage_TheReplyReachesTheServerBeforeTheClose()
    {
        await using var server = new RawWebSocketServer();
        using CancellationTokenSource deadline = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            o.Reconnect.Enabled = false;
            o.Connection.CloseTimeout = CloseTimeout;
            o.Connection.TimeProvider = new FakeTimeProvider();
        });
        await using var client = new WebSocketClient(options);
        var disconnected = new TaskCompletionSource<WebSocketDisconnectedContext>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage(async (message, token) => await client.SendTextAsync("re: " + message.Text, token));
        client.OnDisconnected((context, _) =>
        {
            disconnected.TrySetResult(context);
            return ValueTask.CompletedTask;
        });

        Task connect = client.ConnectAsync(server.Uri, cancellationToken: deadline.Token);
        await using RawConnection raw = await server.AcceptWebSocketAsync(cancellationToken: deadline.Token);
        await connect.WaitAsync(deadline.Token);
        byte[] script = [.. RawConnection.Frame(0x1, "question"u8), .. BadFrame("data-opcode").Bytes, .. NeverProcessed()];
        await raw.WriteRawAsync(script, deadline.Token);

        RawFrame reply = await raw.ReadFrameAsync(TestTimeouts.Default, deadline.Token);
        Assert.Equal(0x1, reply.Opcode);
        Assert.Equal("re: question", reply.Text);
        RawCloseFrame close = await raw.ReadCloseFrameAsync(TestTimeouts.Default, skipOtherFrames: false, deadline.Token);
        Assert.Equal((ushort)1002, close.Code);
        raw.ShutdownSend();

        WebSocketDisconnectedContext end = await disconnected.Task.WaitAsync(deadline.Token);
        Assert.Equal(WebSocketCloseStatus.ProtocolError, end.CloseStatus);
        Assert.IsType<WebSocketProtocolException>(end.Exception);
    }

    /// <summary>After the Close was read: receive throws the violation, and the client ends TCP after the server.</summary>
    private static async Task EndAsync(ConformanceSession session, ushort code)
    {
        Assert.Equal((WebSocketCloseStatus)code, (await Assert.ThrowsAsync<WebSocketProtocolException>(session.ReceiveAsync)).CloseStatus);
        session.Raw.ShutdownSend();
        Assert.True(await session.Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, session.Token));
        await session.Client.Completion.WaitAsync(session.Token);
    }

    private static Task<ConformanceSession> OpenAsync(FakeTimeProvider time, Action<WebSocketConnectionOptions>? configure = null) =>
        ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.CloseTimeout = CloseTimeout;
            configure?.Invoke(o);
        });

    private static async Task WriteAsync(ConformanceSession session, byte[] good, byte[] rest, Delivery delivery)
    {
        switch (delivery)
        {
            case Delivery.OneWrite:
                await session.WriteAsync([.. good, .. rest]);
                break;
            case Delivery.TwoWrites:
                await session.WriteAsync(good);
                await session.WriteAsync(rest);
                break;
            default:
                await session.Raw.TrickleAsync([.. good, .. rest], TimeSpan.Zero, session.Token);
                break;
        }
    }

    /// <summary>A Ping and a message behind the violating frame: neither may be answered or delivered.</summary>
    private static byte[] NeverProcessed() => [.. RawConnection.Frame(0x9, "after"u8), .. RawConnection.Frame(0x1, "after"u8)];

    private static (byte[] Bytes, ushort Code) BadFrame(string violation) => violation switch
    {
        // RFC 6455 §5.2: RSV bits without a negotiated extension.
        "rsv" => (RawConnection.Frame(0x1, "bad"u8, rsv: 0x40), 1002),

        // §5.2: reserved opcodes, non-control and control.
        "data-opcode" => (RawConnection.Frame(0x3, "bad"u8), 1002),
        "control-opcode" => (RawConnection.Frame(0xB, "bad"u8), 1002),

        // §5.4: fragmentation rules.
        "continuation-without-start" => (RawConnection.Frame(0x0, "bad"u8), 1002),
        "data-inside-fragmented" => ([.. RawConnection.Frame(0x1, "frag"u8, fin: false), .. RawConnection.Frame(0x1, "bad"u8)], 1002),
        "fragmented-control" => (RawConnection.Frame(0x9, "bad"u8, fin: false), 1002),

        // §8.1: a text message that is not valid UTF-8 (a lone continuation byte).
        "utf8" => (RawConnection.Frame(0x1, [0x61, 0x80, 0x62]), 1007),
        _ => throw new ArgumentOutOfRangeException(nameof(violation)),
    };
}
