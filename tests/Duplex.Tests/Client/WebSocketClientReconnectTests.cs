using System.Net.WebSockets;
using System.Text;
using Duplex.Client;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Client;

/// <summary>Losing the connection: what the client reconnects on, what it keeps, what it reports.</summary>
public sealed class WebSocketClientReconnectTests : RawServerClientTestBase
{
    [Fact]
    public async Task ServerDropsConnection_ClientReconnects_OutboxDrainsInOrderAfterConnectHandler()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o => { o.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(300); o.Reconnect.MaxDelay = TimeSpan.FromSeconds(1); }));
        var recorder = new ClientRecorder(client);
        client.OnConnected(async (context, ct) =>
        {
            if (context.IsReconnect)
            {
                await client.SendTextAsync("re-auth", ct);
            }
        });

        Task<RawConnection> firstAccept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection first = await firstAccept;
        first.Abort();
        // Disconnected only for the reconnect delay, then Connecting: the server completes no handshake until
        // the test accepts one, so either way sends wait in the outbox.
        await ClientTestKit.WaitUntilAsync(() => client.State is WebSocketClientState.Disconnected or WebSocketClientState.Connecting, "the client notices the loss");

        // Sent while disconnected: they wait in the outbox.
        Task[] sends = Enumerable.Range(0, 10).Select(i => client.SendTextAsync($"queued {i}", Deadline.Token).AsTask()).ToArray();
        await ClientTestKit.WaitUntilAsync(() => client.OutboxCount == 10, "ten messages wait in the outbox");

        RawConnection second = await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        Assert.Equal("re-auth", (await second.ReadFrameAsync(cancellationToken: Deadline.Token)).Text);
        for (int i = 0; i < 10; i++)
        {
            RawFrame frame = await second.ReadFrameAsync(cancellationToken: Deadline.Token);
            Assert.True(frame.Masked);
            Assert.Equal($"queued {i}", frame.Text);
        }

        await Task.WhenAll(sends).WaitAsync(Deadline.Token);
        Assert.Equal(0, client.OutboxCount);
        Assert.Contains("reconnected", recorder.Events);
        WebSocketDisconnectedContext lost = Assert.Single(recorder.Disconnected);
        Assert.True(lost.WillReconnect);
        Assert.Equal((WebSocketCloseStatus)1006, lost.CloseStatus);
        Assert.IsType<WebSocketClosedException>(lost.Exception);
    }

    [Fact]
    public async Task ConnectionFailsWithSendsStillBuffered_TheyGoOutOnTheNextConnection()
    {
        // The first connection's writes never reach the network (the peer stopped reading); its
        // sends complete as soon as they are buffered.
        int connections = 0;
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o => o.Connection.Transport = new WrappingTransport(
            inner => Interlocked.Increment(ref connections) == 1 ? new StallingWriteStream(inner) : inner)));
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection first = await accept;
        for (int i = 0; i < 3; i++)
        {
            await client.SendTextAsync($"buffered {i}", Deadline.Token);
        }

        await client.SendBinaryAsync(new byte[] { 1, 2, 3 }, Deadline.Token);
        first.Abort();

        RawConnection second = await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal($"buffered {i}", (await second.ReadFrameAsync(cancellationToken: Deadline.Token)).Text);
        }

        RawFrame binary = await second.ReadFrameAsync(cancellationToken: Deadline.Token);
        Assert.Equal(2, binary.Opcode);
        Assert.Equal(new byte[] { 1, 2, 3 }, binary.Payload);
    }

    [Fact]
    public async Task ConnectionFailsWithSendsStillBuffered_NoReconnect_TheyAreReportedDropped()
    {
        var dropped = new System.Collections.Concurrent.ConcurrentQueue<WebSocketOutgoingMessage>();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.Reconnect.Enabled = false;
            o.MessageDropped = dropped.Enqueue;
            o.Connection.Transport = new WrappingTransport(inner => new StallingWriteStream(inner));
        }));
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection connection = await accept;
        await client.SendTextAsync("never written", Deadline.Token);
        connection.Abort();

        await ClientTestKit.WaitUntilAsync(() => dropped.Count == 1, "the unsent message is reported");
        Assert.Equal("never written", dropped.Single().Text);
    }

    [Theory]
    [InlineData(1001)]
    [InlineData(1011)]
    [InlineData(1012)]
    [InlineData(1013)]
    [InlineData(4000)]
    public async Task ServerClosesWithRetryableCode_ClientReconnects(int code)
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection first = await accept;
        await first.SendCloseAsync((ushort)code, "restart", Deadline.Token);
        RawCloseFrame echoed = await first.ReadCloseFrameAsync(cancellationToken: Deadline.Token);
        Assert.Equal((ushort)code, echoed.Code);
        await first.DisposeAsync();

        await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await ClientTestKit.WaitUntilAsync(() => recorder.Connected.Count == 2, "the client reconnected");
        WebSocketDisconnectedContext lost = Assert.Single(recorder.Disconnected);
        Assert.Equal((WebSocketCloseStatus)code, lost.CloseStatus);
        Assert.Equal("restart", lost.CloseStatusDescription);
        Assert.True(lost.WillReconnect);
        Assert.Null(lost.Exception);
    }

    [Theory]
    [InlineData(1002)]
    [InlineData(1003)]
    [InlineData(1007)]
    [InlineData(1008)]
    [InlineData(1009)]
    [InlineData(1010)]
    public async Task ServerClosesWithPolicyCode_ClientDoesNotReconnect(int code)
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection first = await accept;
        await first.SendCloseAsync((ushort)code, "go away", Deadline.Token);
        await first.ReadCloseFrameAsync(cancellationToken: Deadline.Token);
        await first.DisposeAsync();

        await ClientTestKit.WaitUntilAsync(() => recorder.Disconnected.Count == 1, "the loss is reported");
        WebSocketDisconnectedContext lost = Assert.Single(recorder.Disconnected);
        Assert.False(lost.WillReconnect);
        Assert.Equal((WebSocketCloseStatus)code, lost.CloseStatus);
        await ClientTestKit.WaitUntilAsync(() => client.State == WebSocketClientState.Disconnected, "the client gives up");
        Assert.False(client.IsReconnecting);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => client.SendTextAsync("after giving up").AsTask());
    }

    [Fact]
    public async Task ReconnectRejectedWith401_NoFactory_ClientGivesUp()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        (await accept).Abort();

        await RejectNextAsync(401);
        await ClientTestKit.WaitUntilAsync(() => recorder.Errors.Any(e => e is WebSocketHandshakeRejectedException), "the 401 is reported");
        await ClientTestKit.WaitUntilAsync(() => !client.IsReconnecting && client.State == WebSocketClientState.Disconnected, "the client gives up");
        var rejected = (WebSocketHandshakeRejectedException)recorder.Errors.Single(e => e is WebSocketHandshakeRejectedException);
        Assert.Equal(401, rejected.StatusCode);
        Assert.Equal(2, Server.Connections.Count);
    }

    [Fact]
    public async Task ReconnectRejectedWith401_WithHeadersFactory_RetriesOnceWithFreshHeaders()
    {
        int produced = 0;
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o => o.HeadersFactory = _ =>
            ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["Authorization"] = $"Bearer token-{Interlocked.Increment(ref produced)}" })));
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection first = await accept;
        Assert.Equal("Bearer token-1", first.Request!.Headers["Authorization"]);
        first.Abort();

        RawConnection rejected = await RejectNextAsync(401);
        Assert.Equal("Bearer token-2", rejected.Request!.Headers["Authorization"]);
        RawConnection retried = await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        Assert.Equal("Bearer token-3", retried.Request!.Headers["Authorization"]);
        await ClientTestKit.WaitUntilAsync(() => client.IsOpen, "the client is open again");
    }

    [Fact]
    public async Task ReconnectRejectedWith503AndRetryAfter_ClientRetries()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        (await accept).Abort();
        await RejectNextAsync(503, "Retry-After: 1\r\n");
        await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await ClientTestKit.WaitUntilAsync(() => client.IsOpen, "the client is open again");
    }

    [Fact]
    public async Task SilenceTimeout_NothingReceived_ConnectionReplaced()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o => o.SilenceTimeout = TimeSpan.FromMilliseconds(300)));
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection silent = await accept;

        RawCloseFrame close = await silent.ReadCloseFrameAsync(cancellationToken: Deadline.Token);
        Assert.Equal((ushort)1001, close.Code);
        await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await ClientTestKit.WaitUntilAsync(() => recorder.Connected.Count == 2, "the client reconnected");
        WebSocketDisconnectedContext lost = recorder.Disconnected.First();
        Assert.True(lost.WillReconnect);
        Assert.Contains("Nothing was received", lost.Exception!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SilenceTimeout_PeerKeepsTalking_ConnectionKept()
    {
        var time = new FakeTimeProvider();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.TimeProvider = time;
            o.SilenceTimeout = TimeSpan.FromMilliseconds(400);
        }));
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);

        // Disposed before the client: its close then ends with the connection instead of a close timeout on the fake clock.
        await using RawConnection chatty = await accept;

        // Pongs count as traffic: a quiet but alive connection is never torn down. The only frames the client
        // receives are Pongs, each one known to be processed when the Ping it answers completes; then the clock
        // moves on, short of the limit: ten times, 3 s in all against a 400 ms limit.
        for (int i = 0; i < 10; i++)
        {
            ValueTask<WebSocketPingResult> ping = client.PingAsync(Encoding.UTF8.GetBytes($"ping {i}"), Deadline.Token);
            RawFrame sent = await chatty.ReadFrameAsync(cancellationToken: Deadline.Token);
            Assert.Equal(0x9, sent.Opcode);
            await chatty.SendFrameAsync(0xA, sent.Payload, cancellationToken: Deadline.Token);
            await ping;
            time.Advance(TimeSpan.FromMilliseconds(300));
        }

        Assert.True(client.IsOpen);
        Assert.Empty(recorder.Disconnected);
        Assert.Single(Server.Connections);
    }

    [Fact]
    public async Task CloseAsync_StopsReconnecting_AndLaterSendsFail()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection connection = await accept;

        Task close = client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", Deadline.Token);
        RawCloseFrame frame = await connection.ReadCloseFrameAsync(cancellationToken: Deadline.Token);
        Assert.Equal((ushort)1000, frame.Code);
        Assert.Equal("bye", frame.Reason);
        await connection.SendCloseAsync(1000, "ok", Deadline.Token);
        await connection.DisposeAsync();
        await close;

        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.False(client.IsReconnecting);
        WebSocketDisconnectedContext closed = Assert.Single(recorder.Disconnected);
        Assert.True(closed.ClosedByApplication);
        Assert.False(closed.WillReconnect);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => client.SendTextAsync("late").AsTask());
        Assert.Single(Server.Connections);
        await client.CloseAsync();
    }

    [Fact]
    public async Task StateSequence_ConnectLoseReconnectClose_IsExact()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        (await accept).Abort();
        RawConnection second = await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await ClientTestKit.WaitUntilAsync(() => recorder.Connected.Count == 2, "reconnected");
        Task close = client.CloseAsync(cancellationToken: Deadline.Token);
        await second.ReadCloseFrameAsync(cancellationToken: Deadline.Token);
        await second.SendCloseAsync(1000, string.Empty, Deadline.Token);
        await second.DisposeAsync();
        await close;

        Assert.Equal(
            ["state:Connecting", "state:Open", "state:Disconnected", "state:Connecting", "state:Open", "state:Closing", "state:Closed"],
            recorder.States);
        await ClientTestKit.WaitUntilAsync(() => recorder.Events.Count(e => e.StartsWith("disconnected", StringComparison.Ordinal)) == 2, "both disconnects dispatched");
        Assert.Equal(
            ["connected", "disconnected:1006:retry", "reconnected", "disconnected:1000:stop"],
            recorder.Events.Where(e => !e.StartsWith("state:", StringComparison.Ordinal)).ToArray());
    }

    [Fact]
    public async Task ReconnectDisabled_ConnectionLost_QueuedAndLaterSendsFail()
    {
        var dropped = new List<WebSocketOutgoingMessage>();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.Reconnect.Enabled = false;
            o.MessageDropped = m => { lock (dropped) { dropped.Add(m); } };
        }));
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        (await accept).Abort();
        await ClientTestKit.WaitUntilAsync(() => recorder.Disconnected.Count == 1, "the loss is reported");
        Assert.False(recorder.Disconnected.Single().WillReconnect);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => client.SendTextAsync("nobody listens").AsTask());
    }

    private async Task<RawConnection> RejectNextAsync(int status, string extraHeaders = "")
    {
        RawConnection connection = await Server.AcceptAsync(cancellationToken: Deadline.Token);
        await connection.ReadRequestAsync(cancellationToken: Deadline.Token);
        string body = "not allowed";
        await connection.WriteRawAsync($"HTTP/1.1 {status} Nope\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n{extraHeaders}Connection: close\r\n\r\n{body}", Deadline.Token);
        await connection.DisposeAsync();
        return connection;
    }
}
