using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Client;

/// <summary>
/// The first connect while the server has taken the request and not answered yet: the caller's token, a close
/// and a dispose each end it, and the client can connect again afterwards.
/// </summary>
public sealed class WebSocketClientFirstConnectTests : IAsyncLifetime
{
    private readonly RawWebSocketServer _server = new();
    private readonly CancellationTokenSource _timeout = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task CallerCancelsWhileTheServerSitsOnTheRequest_ConnectIsCancelled_AndTheNextConnectWorks()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_timeout.Token);
        Task connect = client.ConnectAsync(_server.Uri, cancellationToken: cancel.Token);
        await using RawConnection stalled = await TakeRequestWithoutAnsweringAsync();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connect.WaitAsync(_timeout.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);

        await ConnectAndEchoAsync(client);
    }

    [Fact]
    public async Task CloseAsyncWhileTheServerSitsOnTheRequest_ConnectFailsAsClosed_AndTheNextConnectWorks()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        Task connect = client.ConnectAsync(_server.Uri, cancellationToken: _timeout.Token);
        await using RawConnection stalled = await TakeRequestWithoutAnsweringAsync();

        await client.CloseAsync(cancellationToken: _timeout.Token);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => connect.WaitAsync(_timeout.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);

        await ConnectAndEchoAsync(client);
    }

    [Fact]
    public async Task DisposeWhileTheServerSitsOnTheRequest_ConnectFailsAsClosed()
    {
        var client = new WebSocketClient(ClientTestKit.FastOptions());

        // No caller token at all: only the client's own stop can end this connect.
        Task connect = client.ConnectAsync(_server.Uri);
        await using RawConnection stalled = await TakeRequestWithoutAnsweringAsync();

        client.Dispose();
        await Assert.ThrowsAsync<WebSocketClosedException>(() => connect.WaitAsync(_timeout.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);
    }

    private async Task<RawConnection> TakeRequestWithoutAnsweringAsync()
    {
        RawConnection connection = await _server.AcceptAsync(cancellationToken: _timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: _timeout.Token);
        return connection;
    }

    private async Task ConnectAndEchoAsync(WebSocketClient client)
    {
        Task<RawConnection> accept = _server.AcceptWebSocketAsync(cancellationToken: _timeout.Token);
        await client.ConnectAsync(_server.Uri, cancellationToken: _timeout.Token);
        await using RawConnection server = await accept;
        Assert.Equal(WebSocketClientState.Open, client.State);
        await client.SendTextAsync("after", _timeout.Token);
        Assert.Equal("after", (await server.ReadFrameAsync(cancellationToken: _timeout.Token)).Text);
    }
}
