using System.Net.WebSockets;
using Duplex.Connection;
using Duplex.Tests.Conformance;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Connection.Liveness;

/// <summary>One timer per connection serves keepalive and the silence watchdog; a fake clock drives it.</summary>
public sealed class LivenessTimerTests
{
    [Fact]
    public async Task Silence_NothingArrives_FailsWith1001AtTheLimit_NotBefore()
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.SilenceTimeout = TimeSpan.FromSeconds(4);
        });

        time.Advance(TimeSpan.FromSeconds(4) - TimeSpan.FromTicks(1));
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        time.Advance(TimeSpan.FromTicks(1));

        var close = await session.Raw.ReadCloseFrameAsync(cancellationToken: session.Token);
        Assert.Equal((ushort)WebSocketCloseStatus.EndpointUnavailable, close.Code);
        Assert.Equal("silence timeout", close.Reason);
        await session.Client.Completion.WaitAsync(session.Token);
        WebSocketClosedException error = Assert.IsType<WebSocketClosedException>(session.Client.CloseError);
        Assert.IsType<TimeoutException>(error.InnerException);
    }

    [Fact]
    public async Task Silence_TrafficKeepsComing_TheLimitCountsFromTheLastBytes()
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.SilenceTimeout = TimeSpan.FromSeconds(4);
        });

        for (int i = 0; i < 3; i++)
        {
            time.Advance(TimeSpan.FromSeconds(3));
            await session.Raw.SendTextAsync("tick", session.Token);
            Assert.Equal("tick", (await session.Client.ReceiveMessageAsync(session.Token)).Text);
        }

        // Nine seconds in, each message less than the limit after the one before: still open, and the
        // limit now counts from the last message.
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        time.Advance(TimeSpan.FromSeconds(4) - TimeSpan.FromTicks(1));
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        time.Advance(TimeSpan.FromTicks(1));
        var close = await session.Raw.ReadCloseFrameAsync(cancellationToken: session.Token);
        Assert.Equal((ushort)WebSocketCloseStatus.EndpointUnavailable, close.Code);
    }

    [Fact]
    public async Task KeepAliveAndSilence_OnOneTimer_PingsGoOutAndSilenceStillEndsAQuietPeer()
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.KeepAliveInterval = TimeSpan.FromSeconds(1);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(30);
            o.SilenceTimeout = TimeSpan.FromSeconds(2.5);
        });

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0x9, (await session.Raw.ReadFrameAsync(cancellationToken: session.Token)).Opcode);

        // The Ping is not answered: keepalive would wait 30 s, silence ends it at 2.5 s.
        time.Advance(TimeSpan.FromSeconds(1.5) - TimeSpan.FromTicks(1));
        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        time.Advance(TimeSpan.FromTicks(1));
        var close = await session.Raw.ReadCloseFrameAsync(cancellationToken: session.Token);
        Assert.Equal((ushort)WebSocketCloseStatus.EndpointUnavailable, close.Code);
    }

    [Fact]
    public async Task Silence_WhileReadingWaitsForTheApplication_IsNotCountedAgainstThePeer()
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            o.TimeProvider = time;
            o.SilenceTimeout = TimeSpan.FromSeconds(4);
            o.ReceiveQueueCapacity = 1;
        });

        // Messages the application does not read, in separate writes, until the loop waits for room.
        int sent = 0;
        while (!session.Client.ReceivePaused)
        {
            await session.Raw.SendTextAsync("m" + sent++, session.Token);
            await Task.Delay(10, session.Token);
        }

        for (int i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(4));
        }

        Assert.Equal(WebSocketConnectionState.Open, session.Client.State);
        for (int i = 0; i < sent; i++)
        {
            Assert.Equal("m" + i, (await session.Client.ReceiveMessageAsync(session.Token)).Text);
        }

        // Reading again, and the peer is quiet: silence counts from the last check, at most a limit ago.
        time.Advance(TimeSpan.FromSeconds(4));
        var close = await session.Raw.ReadCloseFrameAsync(cancellationToken: session.Token);
        Assert.Equal((ushort)WebSocketCloseStatus.EndpointUnavailable, close.Code);
    }
}
