using System.Net.Http;
using System.Net.WebSockets;
using System.Text;
using Duplex.Client;
using Duplex.Connection;
using Duplex.Connection.Receive;
using Duplex.Tests.Conformance;
using Duplex.Tests.Infrastructure;
using Duplex.Tests.Interop;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Connection.Receive;

/// <summary>
/// <see cref="WebSocketConnectionOptions.DedicatedReceiveThread"/>: who runs what (the waiting receive and the
/// client's handlers continue on the connection's own thread), the take-over when code keeps that thread, and the
/// paths where the thread has to wait: a full queue, the closing handshake, a violation, the end. The interop suites
/// run again in this mode (<c>DedicatedThreadInteropTests</c>), and so do the transport suites (<c>BlockingSocketTransport*</c>).
/// </summary>
public sealed class DedicatedReceiveThreadTests(KestrelHttp11Fixture fixture) : IClassFixture<KestrelHttp11Fixture>
{
    private const string ThreadName = "Duplex receive";

    [Fact]
    public async Task ReceiveMessageAsync_WaitingWhenTheEchoArrives_ContinuesOnTheReceiveThread()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(fixture.Host.GetUri("/echo"), timeout.Token);
        Assert.NotNull(connection.ReceiveThread);

        for (int i = 0; i < 20; i++)
        {
            // Waiting (its continuation registered) before anything is sent: the message is handed over by the
            // thread that read it.
            Task<(WebSocketMessage, string?, bool)> observed = ObserveContinuationAsync(connection.ReceiveMessageAsync(timeout.Token));
            await connection.SendTextAsync($"ping {i}", timeout.Token);
            (WebSocketMessage echo, string? thread, bool pool) = await observed;

            Assert.Equal($"ping {i}", echo.Text);
            Assert.Equal(ThreadName, thread);
            Assert.False(pool);
        }

        Assert.Equal(1, connection.ReceiveThread!.Threads);
    }

    [Fact]
    public async Task RoundTrips_LargeAndFragmentedMessages_ArriveWhole()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(fixture.Host.GetUri("/echo"), timeout.Token, o => o.MaxMessageSize = 8 * 1024 * 1024);
        byte[] large = new byte[3 * 1024 * 1024 + 17];
        new Random(7).NextBytes(large);

        await connection.SendBinaryAsync(large, timeout.Token);
        WebSocketMessage echo = await connection.ReceiveMessageAsync(timeout.Token);
        Assert.Equal(large, echo.Data.ToArray());

        await using (WebSocketMessageWriter writer = await connection.CreateMessageWriterAsync(WebSocketMessageType.Text, timeout.Token))
        {
            await writer.WriteAsync(Encoding.UTF8.GetBytes("in "), timeout.Token);
            await writer.WriteAsync(Encoding.UTF8.GetBytes("three "), timeout.Token);
            await writer.CompleteAsync(Encoding.UTF8.GetBytes("pieces"), timeout.Token);
        }

        Assert.Equal("in three pieces", (await connection.ReceiveMessageAsync(timeout.Token)).Text);
    }

    [Fact]
    public async Task FullReceiveQueue_TheThreadWaitsForRoom_EveryMessageArrivesInOrder()
    {
        using var timeout = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));
        await using var connection = await ConnectAsync(fixture.Host.GetUri("/echo"), timeout.Token, o => o.ReceiveQueueCapacity = 1);
        const int Count = 300;
        byte[] payload = new byte[32 * 1024];

        Task send = Task.Run(async () =>
        {
            for (int i = 0; i < Count; i++)
            {
                BitConverter.TryWriteBytes(payload, i);
                await connection.SendBinaryAsync(payload, timeout.Token);
            }
        });

        for (int i = 0; i < Count; i++)
        {
            WebSocketMessage echo = await connection.ReceiveMessageAsync(timeout.Token);
            Assert.Equal(i, BitConverter.ToInt32(echo.Data.Span));
            if (i % 50 == 0)
            {
                // A slow reader now and then: the queue fills and the receive thread waits for room.
                await Task.Yield();
            }
        }

        await send.WaitAsync(timeout.Token);
        Assert.Equal(1, connection.ReceiveThread!.Threads);
    }

    [Fact]
    public async Task CodeKeepingTheReceiveThread_AnotherThreadTakesOver_AndAnswersThePing()
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await OpenOnFakeClockAsync(time);
        ReceiveThread receiveThread = session.Client.ReceiveThread!;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();

        // The receive continues on the receive thread and then blocks there, as a handler doing blocking work would.
        Task<string?> held = HoldAsync(session.Client.ReceiveMessageAsync(session.Token), entered, release, session.Token);
        await session.Raw.SendTextAsync("hold", session.Token);
        Assert.True(entered.Wait(TestTimeouts.Default, session.Token));
        await session.Raw.SendFrameAsync(0x9, "are you there"u8.ToArray(), cancellationToken: session.Token);

        // Past the take-over threshold on the connection's clock: a new thread reads, and the Ping gets its Pong
        // while the first thread is still held.
        time.Advance(ReceiveThread.TakeOverAfter + TimeSpan.FromMilliseconds(50));
        RawFrame pong = await session.ReadClientFrameAsync(0xA);

        Assert.Equal("are you there", pong.Text);
        Assert.False(release.IsSet);
        Assert.Equal(2, receiveThread.Threads);

        release.Set();
        Assert.Equal(ThreadName, await held);
        await session.Raw.SendTextAsync("after", session.Token);
        Assert.Equal("after", (await session.Client.ReceiveMessageAsync(session.Token)).Text);
        Assert.Equal(2, receiveThread.Threads);
    }

    [Fact]
    public async Task CodeReturningBeforeTheThreshold_KeepsTheThread()
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await OpenOnFakeClockAsync(time);
        ReceiveThread receiveThread = session.Client.ReceiveThread!;

        for (int i = 0; i < 5; i++)
        {
            ValueTask<WebSocketMessage> receive = session.Client.ReceiveMessageAsync(session.Token);
            await session.Raw.SendTextAsync($"m{i}", session.Token);
            Assert.Equal($"m{i}", (await receive).Text);

            // Off the receive thread (this code may run on it), once the receive's turn there is over: ticks of the
            // watch while no code holds the thread take nothing over.
            await Task.Run(() => Assert.True(SpinWait.SpinUntil(() => !receiveThread.CallerRunning, TestTimeouts.Default)), session.Token);
            time.Advance(ReceiveThread.TakeOverAfter * 3);
        }

        Assert.Equal(1, receiveThread.Threads);
    }

    [Fact]
    public async Task IdleConnection_TheWatchStops_AndCodeKeepingTheThreadLaterIsStillTakenOver()
    {
        var time = new FakeTimeProvider();
        await using ConformanceSession session = await OpenOnFakeClockAsync(time);
        ReceiveThread receiveThread = session.Client.ReceiveThread!;
        Assert.False(receiveThread.Watching);

        // A turn starts the watch; its first tick after the turn finds no caller and stops it.
        ValueTask<WebSocketMessage> receive = session.Client.ReceiveMessageAsync(session.Token);
        await session.Raw.SendTextAsync("first", session.Token);
        Assert.Equal("first", (await receive).Text);
        await Task.Run(() => Assert.True(SpinWait.SpinUntil(() => !receiveThread.CallerRunning, TestTimeouts.Default)), session.Token);
        Assert.True(receiveThread.Watching);
        time.Advance(TimeSpan.FromMilliseconds(50));
        Assert.False(receiveThread.Watching);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.False(receiveThread.Watching);

        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        try
        {
            Task<string?> held = HoldAsync(session.Client.ReceiveMessageAsync(session.Token), entered, release, session.Token);
            await session.Raw.SendTextAsync("hold", session.Token);
            Assert.True(entered.Wait(TestTimeouts.Default, session.Token));
            Assert.True(receiveThread.Watching);
            await session.Raw.SendFrameAsync(0x9, "still there"u8.ToArray(), cancellationToken: session.Token);

            // The watch ticks again from the turn's start: at 50 ms the thread is kept; past the threshold (the tick
            // at 150 ms at the latest) it is taken over.
            time.Advance(TimeSpan.FromMilliseconds(50));
            Assert.Equal(1, receiveThread.Threads);
            time.Advance(TimeSpan.FromMilliseconds(50));
            time.Advance(TimeSpan.FromMilliseconds(50));
            RawFrame pong = await session.ReadClientFrameAsync(0xA);
            Assert.Equal("still there", pong.Text);
            Assert.Equal(2, receiveThread.Threads);
            Assert.False(release.IsSet);

            release.Set();
            Assert.Equal(ThreadName, await held);
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task ProtocolViolation_FailsWith1002_AndTheLoopEnds()
    {
        await using var session = await ConformanceSession.OpenAsync(o => o.DedicatedReceiveThread = true);
        await session.Raw.SendTextAsync("before", session.Token);
        await session.Raw.SendFrameAsync(0x1, "bad"u8.ToArray(), rsv: 0x20, cancellationToken: session.Token);

        Assert.Equal("before", (await session.Client.ReceiveMessageAsync(session.Token)).Text);
        await Assert.ThrowsAsync<WebSocketProtocolException>(async () => await session.Client.ReceiveMessageAsync(session.Token));
        RawCloseFrame close = await session.ReadClientCloseAsync();

        Assert.Equal((ushort)1002, close.Code);
        session.Raw.Abort();
        await session.Client.ReceiveLoop.WaitAsync(session.Token);
    }

    [Fact]
    public async Task CloseAsync_BothWays_CompletesAndTheReceiveThreadEnds()
    {
        using var timeout = TestTimeouts.CreateSource();
        var connection = await ConnectAsync(fixture.Host.GetUri("/echo"), timeout.Token);
        await connection.SendTextAsync("bye soon", timeout.Token);
        Assert.Equal("bye soon", (await connection.ReceiveMessageAsync(timeout.Token)).Text);

        await connection.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);

        await connection.ReceiveLoop.WaitAsync(timeout.Token);
        await connection.ReceiveThread!.Ended.WaitAsync(timeout.Token);
        Assert.Equal(WebSocketConnectionState.Closed, connection.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, connection.RemoteCloseStatus);
        await connection.DisposeAsync();
    }

    [Fact]
    public async Task ServerAnswersTheCloseButKeepsTcpOpen_TheCloseTimeoutEndsTheBlockedRead()
    {
        await using var session = await ConformanceSession.OpenAsync(o =>
        {
            o.DedicatedReceiveThread = true;
            o.CloseTimeout = TimeSpan.FromMilliseconds(300);
        });

        Task close = session.Client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", session.Token);
        RawCloseFrame ours = await session.ReadClientCloseAsync();
        await session.Raw.SendCloseAsync(1000, "bye too", session.Token);

        // The server never ends TCP: the receive thread blocks in its read until the close timeout closes the socket.
        await close.WaitAsync(session.Token);
        await session.Client.ReceiveLoop.WaitAsync(session.Token);
        Assert.Equal((ushort)1000, ours.Code);
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
    }

    [Fact]
    public async Task ServerDropsTheConnection_TheBlockedReadEnds_AndTheConnectionReportsTheLoss()
    {
        await using var session = await ConformanceSession.OpenAsync(o => o.DedicatedReceiveThread = true);
        await session.Raw.SendTextAsync("one", session.Token);
        Assert.Equal("one", (await session.Client.ReceiveMessageAsync(session.Token)).Text);

        // The receive thread is blocked in a read now; the server goes without a Close.
        session.Raw.Abort();

        await session.Client.Completion.WaitAsync(session.Token);
        await session.Client.ReceiveLoop.WaitAsync(session.Token);
        Assert.Equal(WebSocketConnectionState.Closed, session.Client.State);
        Assert.NotNull(session.Client.CloseError);
    }

    [Fact]
    public async Task Dispose_WhileTheThreadIsBlockedInARead_EndsIt()
    {
        using var timeout = TestTimeouts.CreateSource();
        var connection = await ConnectAsync(fixture.Host.GetUri("/echo"), timeout.Token);
        ReceiveThread receiveThread = connection.ReceiveThread!;

        await connection.DisposeAsync();

        await receiveThread.Ended.WaitAsync(timeout.Token);
        Assert.Equal(WebSocketConnectionState.Closed, connection.State);
    }

    [Fact]
    public async Task WithTheCallersHttpMessageInvoker_TheConnectionIsReadAsByDefault()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var invoker = new HttpMessageInvoker(new SocketsHttpHandler());

        // The caller's HTTP stack opens the connection: its stream is not a socket of the connection's own.
        await using var connection = await ConnectAsync(fixture.Host.GetUri("/echo"), timeout.Token, o => o.Handshake.HttpMessageInvoker = invoker);

        Assert.Null(connection.ReceiveThread);
        await connection.SendTextAsync("still works", timeout.Token);
        Assert.Equal("still works", (await connection.ReceiveMessageAsync(timeout.Token)).Text);
    }

    [Fact]
    public async Task Client_HandlersRunOnTheReceiveThread_AndAnswerFromThere()
    {
        using var timeout = TestTimeouts.CreateSource();
        var options = new WebSocketClientOptions();
        options.Connection.DedicatedReceiveThread = true;
        options.Connection.KeepAliveInterval = Timeout.InfiniteTimeSpan;
        await using var client = new WebSocketClient(options);
        const int Last = 200;
        var threads = new List<string?>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage(async (message, token) =>
        {
            threads.Add(Thread.CurrentThread.Name);
            int n = int.Parse(message.Text!, System.Globalization.CultureInfo.InvariantCulture);
            if (n == Last)
            {
                done.TrySetResult();
                return;
            }

            // A request/response written in the handler: the next send goes out from the thread it runs on.
            await client.SendTextAsync((n + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), token);
        });
        await client.ConnectAsync(fixture.Host.GetUri("/echo"), null, null, timeout.Token);

        await client.SendTextAsync("0", timeout.Token);
        await done.Task.WaitAsync(timeout.Token);

        // The pump runs where the message that woke it was read: on the receive thread whenever it waited for it.
        // It may run elsewhere for a while (where the connect left it, or where a handler's await resumed), so the
        // test asks only that the receive thread ran handlers, and that every message was answered in order.
        Assert.Equal(Last + 1, threads.Count);
        Assert.Contains(ThreadName, threads);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
    }

    /// <summary>A raw server's session whose client is read on a dedicated thread, with <paramref name="time"/> as its clock (the take-over watch's too).</summary>
    private static Task<ConformanceSession> OpenOnFakeClockAsync(FakeTimeProvider time) =>
        ConformanceSession.OpenAsync(o =>
        {
            o.DedicatedReceiveThread = true;
            o.TimeProvider = time;
        });

    /// <summary>Where the code after <paramref name="receive"/> runs, not sent back to the test's context.</summary>
    private static async Task<(WebSocketMessage Message, string? Thread, bool Pool)> ObserveContinuationAsync(ValueTask<WebSocketMessage> receive)
    {
        WebSocketMessage message = await receive.ConfigureAwait(false);
        return (message, Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread);
    }

    private static async Task<string?> HoldAsync(ValueTask<WebSocketMessage> receive, ManualResetEventSlim entered, ManualResetEventSlim release, CancellationToken token)
    {
        await receive.ConfigureAwait(false);
        string? name = Thread.CurrentThread.Name;
        entered.Set();
        release.Wait(TestTimeouts.Default, token);
        return name;
    }

    private static async Task<WebSocketConnection> ConnectAsync(Uri uri, CancellationToken token, Action<WebSocketConnectionOptions>? configure = null)
    {
        var options = new WebSocketConnectionOptions
        {
            DedicatedReceiveThread = true,
            KeepAliveInterval = Timeout.InfiniteTimeSpan,
            CloseTimeout = TestTimeouts.Short,
        };
        configure?.Invoke(options);
        var connection = new WebSocketConnection(options);
        try
        {
            await connection.ConnectAsync(uri, token);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
