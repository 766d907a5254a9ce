using System.Collections.Concurrent;
using System.Net.WebSockets;
using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Client;

/// <summary>Giving up reconnecting: visible in the state and <see cref="WebSocketClient.HasGivenUp"/>, raised once, and closed by CloseAsync.</summary>
public sealed class WebSocketClientGiveUpTests : RawServerClientTestBase
{
    [Fact]
    public async Task ReconnectRejectedWith403_GivesUpOnce_StateAndPropertySayIt_ThenCloseAsyncCloses()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var recorder = new ClientRecorder(client);
        (ConcurrentQueue<WebSocketGaveUpContext> gaveUp, Task first) = RecordGiveUps(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        (await accept).Abort();
        await RejectNextAsync(403);

        await first.WaitAsync(Deadline.Token);
        Assert.Equal(WebSocketClientState.Disconnected, client.State);
        Assert.True(client.HasGivenUp);
        Assert.False(client.IsReconnecting);
        WebSocketGaveUpContext context = Assert.Single(gaveUp);
        Assert.Equal(403, Assert.IsType<WebSocketHandshakeRejectedException>(context.Exception).StatusCode);
        Assert.Null(context.CloseStatus);
        Assert.Contains("not worth retrying", context.Reason, StringComparison.Ordinal);

        await client.CloseAsync(Deadline.Token);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.False(client.HasGivenUp);
        Assert.Single(gaveUp);
        Assert.Equal(["state:Connecting", "state:Open", "state:Disconnected", "state:Connecting", "state:Disconnected", "state:Closed"], recorder.States);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => client.SendTextAsync("after close").AsTask());
    }

    [Fact]
    public async Task ServerClosesWith1009_GivesUp_ThenCloseAsyncCloses()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var recorder = new ClientRecorder(client);
        (ConcurrentQueue<WebSocketGaveUpContext> gaveUp, Task first) = RecordGiveUps(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection server = await accept;
        await server.SendCloseAsync(1009, "too big", Deadline.Token);
        await server.ReadCloseFrameAsync(cancellationToken: Deadline.Token);
        await server.DisposeAsync();

        await first.WaitAsync(Deadline.Token);
        Assert.True(client.HasGivenUp);
        Assert.Equal(WebSocketClientState.Disconnected, client.State);
        WebSocketGaveUpContext context = Assert.Single(gaveUp);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, context.CloseStatus);
        Assert.Null(context.Exception);
        Assert.False(Assert.Single(recorder.Disconnected).WillReconnect);

        await client.CloseAsync(Deadline.Token);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.False(client.HasGivenUp);
        Assert.Single(gaveUp);
        Assert.Single(Server.Connections);
    }

    [Fact]
    public async Task ReconnectDisabled_ConnectionLost_GivesUp_ThenCloseAsyncCloses()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o => o.Reconnect.Enabled = false));
        (ConcurrentQueue<WebSocketGaveUpContext> gaveUp, Task first) = RecordGiveUps(client);
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        (await accept).Abort();

        await first.WaitAsync(Deadline.Token);
        Assert.True(client.HasGivenUp);
        Assert.Equal(WebSocketClientState.Disconnected, client.State);
        WebSocketGaveUpContext context = Assert.Single(gaveUp);
        Assert.Contains("disabled", context.Reason, StringComparison.Ordinal);
        Assert.IsType<WebSocketClosedException>(context.Exception);

        await client.CloseAsync(Deadline.Token);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.False(client.HasGivenUp);
        Assert.Single(gaveUp);

        // A client that gave up can connect again.
        accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        await using RawConnection again = await accept;
        Assert.True(client.IsOpen);
        Assert.False(client.HasGivenUp);
    }

    private static (ConcurrentQueue<WebSocketGaveUpContext> All, Task First) RecordGiveUps(WebSocketClient client)
    {
        var all = new ConcurrentQueue<WebSocketGaveUpContext>();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnGaveUp((context, _) =>
        {
            all.Enqueue(context);
            first.TrySetResult();
            return ValueTask.CompletedTask;
        });
        return (all, first.Task);
    }

    private async Task RejectNextAsync(int status)
    {
        RawConnection connection = await Server.AcceptAsync(cancellationToken: Deadline.Token);
        await connection.ReadRequestAsync(cancellationToken: Deadline.Token);
        const string Body = "not allowed";
        await connection.WriteRawAsync($"HTTP/1.1 {status} Nope\r\nContent-Type: text/plain\r\nContent-Length: {Body.Length}\r\nConnection: close\r\n\r\n{Body}", Deadline.Token);
        await connection.DisposeAsync();
    }
}
