using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using Duplex.Client;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Client;

/// <summary>The message pump runs apart from the supervisor: a handler that does not return stops only the messages behind it.</summary>
public sealed class WebSocketClientMessagePumpTests : RawServerClientTestBase
{
    [Fact]
    public async Task MessageHandlerStuck_ServerClosesWithRestart_ClientReconnectsAtOnce_AndEverythingStaysInOrder()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var events = new ConcurrentQueue<string>();
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reopened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int opens = 0;
        client.StateChanged += (_, e) =>
        {
            if (e.Current == WebSocketClientState.Open && Interlocked.Increment(ref opens) == 2)
            {
                reopened.TrySetResult();
            }
        };
        client.OnConnected((c, _) => { events.Enqueue(c.IsReconnect ? "reconnected" : "connected"); return ValueTask.CompletedTask; });
        client.OnDisconnected((d, _) => { events.Enqueue($"disconnected:{(int?)d.CloseStatus}"); return ValueTask.CompletedTask; });
        client.OnMessage(async (m, _) =>
        {
            events.Enqueue("message:" + m.Text);
            if (m.Text == "hold")
            {
                inHandler.TrySetResult();

                // Ignores its token on purpose.
                await release.Task;
            }
        });

        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection first = await accept;
        await first.SendTextAsync("hold", Deadline.Token);
        await inHandler.Task.WaitAsync(Deadline.Token);
        await first.SendTextAsync("a1", Deadline.Token);
        await first.SendTextAsync("a2", Deadline.Token);

        // The server restarts while the handler is stuck: the close handshake, the decision and the
        // next connection all happen without it.
        accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await first.SendCloseAsync(1012, "restart", Deadline.Token);
        Assert.Equal((ushort)1012, (await first.ReadCloseFrameAsync(cancellationToken: Deadline.Token)).Code);
        await first.DisposeAsync();
        RawConnection second = await accept;
        await reopened.Task.WaitAsync(Deadline.Token);
        Assert.True(client.IsOpen);
        await second.SendTextAsync("b1", Deadline.Token);

        // Handlers run one at a time and in order: the disconnect and the reconnect wait behind the stuck handler.
        Assert.Equal(["connected", "message:hold"], events);
        release.TrySetResult();
        await ClientTestKit.WaitUntilAsync(() => events.Count == 7, "every handler ran");
        Assert.Equal(["connected", "message:hold", "message:a1", "message:a2", "disconnected:1012", "reconnected", "message:b1"], events);
    }

    [Fact]
    public async Task MessageHandlerStuck_ServerPings_PongStillComes()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage(async (m, _) =>
        {
            inHandler.TrySetResult();
            await release.Task;
        });

        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection server = await accept;
        await server.SendTextAsync("hold", Deadline.Token);
        await inHandler.Task.WaitAsync(Deadline.Token);

        // A few messages queue behind the stuck handler; the receive queue still has room, so the
        // receive loop goes on reading and answers the Ping.
        for (int i = 0; i < 3; i++)
        {
            await server.SendTextAsync($"queued {i}", Deadline.Token);
        }

        await server.SendFrameAsync(0x9, Encoding.UTF8.GetBytes("are you there"), cancellationToken: Deadline.Token);
        RawFrame pong = await server.ReadFrameAsync(cancellationToken: Deadline.Token);
        Assert.Equal(0xA, pong.Opcode);
        Assert.Equal("are you there", pong.Text);
        release.TrySetResult();
    }

    [Fact]
    public async Task MessageHandlerIgnoresItsToken_CloseAsync_CompletesAtTheCloseTimeout_CancelsTheToken_AndObservesTheHandler()
    {
        var time = new FakeTimeProvider();
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            o.TimeProvider = time;
            o.Connection.CloseTimeout = TimeSpan.FromSeconds(5);
        });
        await using var client = new WebSocketClient(options);
        var inHandler = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        var never = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reported = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage(async (m, ct) =>
        {
            inHandler.TrySetResult(ct);

            // Ignores its token; bounded by the test's deadline only so that a failed assertion cannot hang the
            // client's disposal, which waits for the handler on the fake clock.
            await never.Task.WaitAsync(Deadline.Token);
        });
        client.OnError((e, _) => { reported.TrySetResult(e); return ValueTask.CompletedTask; });

        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection server = await accept;
        await server.SendTextAsync("stuck", Deadline.Token);
        await server.SendTextAsync("behind it", Deadline.Token);
        CancellationToken handlerToken = await inHandler.Task.WaitAsync(Deadline.Token);

        Task close = client.CloseAsync(cancellationToken: Deadline.Token);
        Assert.Equal((ushort)1000, (await server.ReadCloseFrameAsync(cancellationToken: Deadline.Token)).Code);
        await server.SendCloseAsync(1000, string.Empty, Deadline.Token);
        await server.DisposeAsync();
        Assert.False(close.IsCompleted);
        Assert.False(handlerToken.IsCancellationRequested);

        // Only the close timeout ends the wait for the handler.
        time.Advance(options.Connection.CloseTimeout);
        await close.WaitAsync(Deadline.Token);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.True(handlerToken.IsCancellationRequested);

        // The handler left behind still has its outcome observed and reported.
        never.SetException(new InvalidOperationException("failed long after the close"));
        Exception error = await reported.Task.WaitAsync(Deadline.Token);
        Assert.Equal("failed long after the close", error.Message);
    }

    [Fact]
    public async Task SlowMessageHandler_IsLoggedOnceWhileItRuns_AndWithItsDurationWhenItReturns()
    {
        var time = new FakeTimeProvider();
        var logger = new CapturingLogger();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.TimeProvider = time;
            o.Logger = logger;
            o.SlowHandlerThreshold = TimeSpan.FromSeconds(1);
        }));
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new ConcurrentQueue<string>();
        client.OnMessage(async (m, _) =>
        {
            if (m.Text == "slow")
            {
                inHandler.TrySetResult();
                await release.Task.WaitAsync(Deadline.Token);
            }

            handled.Enqueue(m.Text!);
        });

        // Disposed before the client (declared after it), and the handler waits no longer than the test's deadline: the
        // client's disposal waits for a running handler up to the close timeout, which is on the fake clock, so a
        // failed assertion would otherwise hang it.
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        await using RawConnection server = await accept;
        await server.SendTextAsync("fast", Deadline.Token);
        await ClientTestKit.WaitUntilAsync(() => handled.Count == 1, "the fast message is handled");
        await server.SendTextAsync("slow", Deadline.Token);
        await inHandler.Task.WaitAsync(Deadline.Token);

        time.Advance(TimeSpan.FromMilliseconds(750));
        Assert.DoesNotContain(logger.Entries, e => e.EventId.Name is "SlowMessageHandler" or "SlowMessageHandlerReturned");
        time.Advance(TimeSpan.FromMilliseconds(250));
        LogEntry running = Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandler");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, running.Level);
        Assert.Contains(running.State, kv => kv.Key == "Elapsed" && Equals(kv.Value, TimeSpan.FromSeconds(1)));

        // Reported once, however long it goes on.
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandler");

        release.TrySetResult();
        await ClientTestKit.WaitUntilAsync(() => logger.Entries.Any(e => e.EventId.Name == "SlowMessageHandlerReturned"), "the duration is logged");
        LogEntry returned = Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandlerReturned");
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, returned.Level);
        Assert.Contains(returned.State, kv => kv.Key == "Duration" && Equals(kv.Value, TimeSpan.FromSeconds(3)));

        // A quick one afterwards is not reported.
        await server.SendTextAsync("fast again", Deadline.Token);
        await ClientTestKit.WaitUntilAsync(() => handled.Count == 3, "the last message is handled");
        Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandler");
        Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandlerReturned");
        await CloseAsync(client, server);
    }

    [Fact]
    public async Task SlowMessageHandler_FollowingAnotherWithoutAWait_IsTimedFromTheWatchsFirstSightOfIt()
    {
        var time = new FakeTimeProvider();
        var logger = new CapturingLogger();
        var inFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inSlow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseSlow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new ConcurrentQueue<string>();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.TimeProvider = time;
            o.Logger = logger;
            o.SlowHandlerThreshold = TimeSpan.FromSeconds(1);
        }));
        client.OnMessage(async (m, _) =>
        {
            if (m.Text == "first")
            {
                inFirst.TrySetResult();
                await releaseFirst.Task.WaitAsync(Deadline.Token);
            }
            else if (m.Text == "slow")
            {
                inSlow.TrySetResult();
                await releaseSlow.Task.WaitAsync(Deadline.Token);
            }

            handled.Enqueue(m.Text!);
        });

        // The watch ticks every quarter threshold; the fake clock moves a tick at a time, as a real one would.
        void AdvanceTicks(int ticks)
        {
            for (int i = 0; i < ticks; i++)
            {
                time.Advance(TimeSpan.FromMilliseconds(250));
            }
        }

        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);

        // Disposed before the client, and the handlers wait no longer than the test's deadline: a failed assertion
        // cannot leave the client's disposal waiting for a close timeout on the fake clock.
        await using RawConnection server = await accept;
        await server.SendTextAsync("first", Deadline.Token);
        await inFirst.Task.WaitAsync(Deadline.Token);

        // "slow" is in the client's queue once a Ping sent after it is answered from a later read (a Ping in
        // the same read is answered while that read is decoded, before its messages are queued): the pump
        // takes it the moment "first" returns, without waiting.
        await server.SendTextAsync("slow", Deadline.Token);
        await server.SendFrameAsync(0x9, "behind slow"u8.ToArray(), cancellationToken: Deadline.Token);
        Assert.Equal("behind slow", (await server.ReadFrameAsync(TimeSpan.FromSeconds(10), Deadline.Token)).Text);
        await server.SendFrameAsync(0x9, "queued"u8.ToArray(), cancellationToken: Deadline.Token);
        Assert.Equal("queued", (await server.ReadFrameAsync(TimeSpan.FromSeconds(10), Deadline.Token)).Text);
        releaseFirst.TrySetResult();
        await inSlow.Task.WaitAsync(Deadline.Token);

        // First seen at 250 ms: timed from there, so not yet over the threshold at 1 s; reported at 1.25 s.
        AdvanceTicks(4);
        Assert.DoesNotContain(logger.Entries, e => e.EventId.Name is "SlowMessageHandler" or "SlowMessageHandlerReturned");
        AdvanceTicks(1);
        LogEntry running = Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandler");
        Assert.Contains(running.State, kv => kv.Key == "Elapsed" && Equals(kv.Value, TimeSpan.FromSeconds(1)));

        AdvanceTicks(4);
        releaseSlow.TrySetResult();
        await ClientTestKit.WaitUntilAsync(() => logger.Entries.Any(e => e.EventId.Name == "SlowMessageHandlerReturned"), "the duration is logged");
        LogEntry returned = Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandlerReturned");
        Assert.Contains(returned.State, kv => kv.Key == "Duration" && Equals(kv.Value, TimeSpan.FromSeconds(2)));
        Assert.Equal(["first", "slow"], handled);

        // Idle for a long while, then a quick message: timed from its own start, not reported.
        AdvanceTicks(40);
        await server.SendTextAsync("quick", Deadline.Token);
        await ClientTestKit.WaitUntilAsync(() => handled.Count == 3, "the last message is handled");
        AdvanceTicks(4);
        Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandler");
        Assert.Single(logger.Entries, e => e.EventId.Name == "SlowMessageHandlerReturned");
        await CloseAsync(client, server);
    }

    [Fact]
    public async Task SlowHandlerThreshold_Infinite_NothingIsLogged()
    {
        var time = new FakeTimeProvider();
        var logger = new CapturingLogger();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.TimeProvider = time;
            o.Logger = logger;
            o.SlowHandlerThreshold = Timeout.InfiniteTimeSpan;
        }));
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage(async (m, _) =>
        {
            inHandler.TrySetResult();
            await release.Task.WaitAsync(Deadline.Token);
            handled.TrySetResult();
        });

        // As above: the server goes first, and the handler waits no longer than the deadline, so a failure cannot hang.
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        await using RawConnection server = await accept;
        await server.SendTextAsync("slow", Deadline.Token);
        await inHandler.Task.WaitAsync(Deadline.Token);
        time.Advance(TimeSpan.FromMinutes(5));
        release.TrySetResult();
        await handled.Task.WaitAsync(Deadline.Token);
        await CloseAsync(client, server);
        Assert.DoesNotContain(logger.Entries, e => e.EventId.Name is "SlowMessageHandler" or "SlowMessageHandlerReturned");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void SlowHandlerThreshold_NotPositive_ThrowsNamingTheOption(int milliseconds)
    {
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(
            () => new WebSocketClient(new WebSocketClientOptions { SlowHandlerThreshold = TimeSpan.FromMilliseconds(milliseconds) }));
        Assert.Equal(nameof(WebSocketClientOptions.SlowHandlerThreshold), error.ParamName);
    }

    /// <summary>Closes the client with the server answering at once, so a fake clock need not move.</summary>
    private async Task CloseAsync(WebSocketClient client, RawConnection server)
    {
        Task close = client.CloseAsync(cancellationToken: Deadline.Token);
        await server.ReadCloseFrameAsync(cancellationToken: Deadline.Token);
        await server.SendCloseAsync(1000, string.Empty, Deadline.Token);
        await server.DisposeAsync();
        await close.WaitAsync(Deadline.Token);
    }
}
