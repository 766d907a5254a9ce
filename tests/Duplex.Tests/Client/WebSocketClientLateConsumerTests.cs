using System.Text;
using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Client;

/// <summary>A consumer that starts late misses nothing: messages wait in the connection until a handler or reader is there.</summary>
public sealed class WebSocketClientLateConsumerTests : RawServerClientTestBase
{
    [Fact]
    public async Task ReaderStartedAfterTheWelcomeArrived_GetsTheWelcome()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection server = await accept;
        await SendWelcomeAndWaitUntilReadAsync(server);

        await using IAsyncEnumerator<WebSocketClientMessage> reader = client.ReadAllAsync(Deadline.Token).GetAsyncEnumerator(Deadline.Token);
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("welcome", reader.Current.Text);
        await server.SendTextAsync("next", Deadline.Token);
        Assert.True(await reader.MoveNextAsync());
        Assert.Equal("next", reader.Current.Text);
    }

    [Fact]
    public async Task HandlerRegisteredAfterTheWelcomeArrived_GetsTheWelcome()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection server = await accept;
        await SendWelcomeAndWaitUntilReadAsync(server);

        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage((m, _) => { received.TrySetResult(m.Text!); return ValueTask.CompletedTask; });
        Assert.Equal("welcome", await received.Task.WaitAsync(Deadline.Token));
    }

    [Fact]
    public async Task CreateConnectedAsync_HandlerAddedInConfigure_GetsTheWelcomeSentOnConnect()
    {
        // The server greets as soon as the handshake is done.
        Task greeting = Task.Run(async () =>
        {
            RawConnection server = await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
            await server.SendTextAsync("welcome", Deadline.Token);
            return server;
        });
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using WebSocketClient client = await WebSocketClient.CreateConnectedAsync(
            Server.Uri,
            c => c.OnMessage((m, _) => { received.TrySetResult(m.Text!); return ValueTask.CompletedTask; }),
            options: ClientTestKit.FastOptions(),
            cancellationToken: Deadline.Token);
        Assert.Equal("welcome", await received.Task.WaitAsync(Deadline.Token));
        await greeting.WaitAsync(Deadline.Token);
    }

    [Fact]
    public async Task NoConsumer_MessagesWaitAcrossAReconnect_AndALateReaderGetsAllInOrder()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var reopened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnConnected((c, _) =>
        {
            if (c.IsReconnect)
            {
                reopened.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection first = await accept;
        await first.SendTextAsync("one", Deadline.Token);
        await first.SendTextAsync("two", Deadline.Token);
        accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await first.SendCloseAsync(1012, "restart", Deadline.Token);
        await first.ReadCloseFrameAsync(cancellationToken: Deadline.Token);
        await first.DisposeAsync();
        RawConnection second = await accept;
        await reopened.Task.WaitAsync(Deadline.Token);
        await second.SendTextAsync("three", Deadline.Token);
        await SendPingAndWaitForPongAsync(second);

        await using IAsyncEnumerator<WebSocketClientMessage> reader = client.ReadAllAsync(Deadline.Token).GetAsyncEnumerator(Deadline.Token);
        foreach (string expected in new[] { "one", "two", "three" })
        {
            Assert.True(await reader.MoveNextAsync());
            Assert.Equal(expected, reader.Current.Text);
        }
    }

    /// <summary>
    /// The server sends a welcome, then a Ping: the Pong proves the client's receive loop has read past
    /// the welcome (frames are read in order), so the consumer the test adds next comes late for sure.
    /// </summary>
    private async Task SendWelcomeAndWaitUntilReadAsync(RawConnection server)
    {
        await server.SendTextAsync("welcome", Deadline.Token);
        await SendPingAndWaitForPongAsync(server);
    }

    private async Task SendPingAndWaitForPongAsync(RawConnection server)
    {
        await server.SendFrameAsync(0x9, Encoding.UTF8.GetBytes("read so far?"), cancellationToken: Deadline.Token);
        RawFrame pong = await server.ReadFrameAsync(cancellationToken: Deadline.Token);
        Assert.Equal(0xA, pong.Opcode);
    }
}
