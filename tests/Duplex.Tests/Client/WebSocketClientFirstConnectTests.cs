using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Client;

/// <summary>
/// The first connect while the server has taken the request and not answered yet: the caller's token, a close
/// and a dispose each end it, and the client can connect again afterwards.
/// </summary>
public sealed class WebSocketClientFirstConnectTests : RawServerClientTestBase
{
    [Fact]
    public async Task CallerCancelsWhileTheServerSitsOnTheRequest_ConnectIsCancelled_AndTheNextConnectWorks()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Deadline.Token);
        Task connect = client.ConnectAsync(Server.Uri, cancellationToken: cancel.Token);
        await using RawConnection stalled = await TakeRequestWithoutAnsweringAsync();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connect.WaitAsync(Deadline.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);

        await ConnectAndEchoAsync(client);
    }

    [Fact]
    public async Task CloseAsyncWhileTheServerSitsOnTheRequest_ConnectFailsAsClosed_AndTheNextConnectWorks()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        Task connect = client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        await using RawConnection stalled = await TakeRequestWithoutAnsweringAsync();

        await client.CloseAsync(cancellationToken: Deadline.Token);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => connect.WaitAsync(Deadline.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);

        await ConnectAndEchoAsync(client);
    }

    [Fact]
    public async Task DisposeWhileTheServerSitsOnTheRequest_ConnectFailsAsClosed()
    {
        var client = new WebSocketClient(ClientTestKit.FastOptions());

        // No caller token at all: only the client's own stop can end this connect.
        Task connect = client.ConnectAsync(Server.Uri);
        await using RawConnection stalled = await TakeRequestWithoutAnsweringAsync();

        client.Dispose();
        await Assert.ThrowsAsync<WebSocketClosedException>(() => connect.WaitAsync(Deadline.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);
    }

    private async Task<RawConnection> TakeRequestWithoutAnsweringAsync()
    {
        RawConnection connection = await Server.AcceptAsync(cancellationToken: Deadline.Token);
        await connection.ReadRequestAsync(cancellationToken: Deadline.Token);
        return connection;
    }

    private async Task ConnectAndEchoAsync(WebSocketClient client)
    {
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        await using RawConnection server = await accept;
        Assert.Equal(WebSocketClientState.Open, client.State);
        await client.SendTextAsync("after", Deadline.Token);
        Assert.Equal("after", (await server.ReadFrameAsync(cancellationToken: Deadline.Token)).Text);
    }
}
