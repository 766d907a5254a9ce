using Duplex.Client;
using Duplex.Manager;
using Duplex.Tests.Client;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Manager;

public sealed class WebSocketClientManagerTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = TestTimeouts.CreateSource();
    private KestrelWebSocketHost _host = null!;

    public async Task InitializeAsync() => _host = await KestrelWebSocketHost.StartNewAsync(cancellationToken: _timeout.Token);

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task ConnectAll_ListClients_CloseAll_ReportEachClient()
    {
        await using var manager = new WebSocketClientManager(() => ClientTestKit.FastOptions());
        manager.CreateClient("prices", _host.GetUri("/echo"), new Dictionary<string, string> { ["X-Feed"] = "prices" });
        manager.CreateClient("orders", _host.GetUri("/echo"), new Dictionary<string, string> { ["X-Feed"] = "orders" });
        manager.CreateClient("refused", _host.GetUri("/reject/403"));
        Assert.All(manager.ListClients().Values, state => Assert.Equal(WebSocketClientState.Closed, state));

        IReadOnlyDictionary<string, Exception?> results = await manager.ConnectAllAsync(_timeout.Token);
        Assert.Null(results["prices"]);
        Assert.Null(results["orders"]);
        Assert.Equal(403, Assert.IsType<WebSocketHandshakeRejectedException>(results["refused"]).StatusCode);

        IReadOnlyDictionary<string, WebSocketClientState> states = manager.ListClients();
        Assert.Equal(WebSocketClientState.Open, states["prices"]);
        Assert.Equal(WebSocketClientState.Open, states["orders"]);
        Assert.Equal(WebSocketClientState.Closed, states["refused"]);
        Assert.Contains(_host.Requests, r => r.Headers.TryGetValue("X-Feed", out string? feed) && feed == "orders");

        await manager["prices"].SendTextAsync("hello", _timeout.Token);
        await manager.CloseAllAsync(cancellationToken: _timeout.Token);
        Assert.All(manager.ListClients().Values, state => Assert.Equal(WebSocketClientState.Closed, state));
        Assert.Equal(3, manager.Names.Count);
    }

    [Fact]
    public async Task CreateClient_DuplicateName_Throws_AndRemoveFreesTheName()
    {
        await using var manager = new WebSocketClientManager();
        manager.CreateClient("a", _host.GetUri("/echo"));
        ArgumentException error = Assert.Throws<ArgumentException>(() => manager.CreateClient("a", _host.GetUri("/echo")));
        Assert.Contains("'a'", error.Message, StringComparison.Ordinal);
        Assert.True(await manager.RemoveClientAsync("a"));
        Assert.False(manager.TryGetClient("a", out _));
        Assert.False(await manager.RemoveClientAsync("a"));
        Assert.Throws<KeyNotFoundException>(() => manager["a"]);
        manager.CreateClient("a", _host.GetUri("/echo"));
    }

    [Fact]
    public async Task ConnectAll_RetryFirstConnect_ServerDownComesUpLater_WaitsForIt()
    {
        var time = new FakeTimeProvider();
        int port = LoopbackListener.FreePort();
        await using var manager = new WebSocketClientManager(() => RetryingOptions(time));
        WebSocketClient up = manager.CreateClient("up", _host.GetUri("/echo"));
        WebSocketClient down = manager.CreateClient("down", new Uri($"ws://127.0.0.1:{port}/"));

        Task<IReadOnlyDictionary<string, Exception?>> connectAll = manager.ConnectAllAsync(_timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => down.State == WebSocketClientState.Disconnected, "the down client waits to retry");
        await ClientTestKit.WaitUntilAsync(() => up.IsOpen, "the up client connects");
        Assert.True(down.IsReconnecting);
        Assert.False(connectAll.IsCompleted);

        await using var server = new RawWebSocketServer(port);
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _timeout.Token);
        time.Advance(TimeSpan.FromSeconds(1));
        await using RawConnection connection = await accept;
        IReadOnlyDictionary<string, Exception?> results = await connectAll.WaitAsync(_timeout.Token);

        Assert.Null(results["up"]);
        Assert.Null(results["down"]);
        Assert.Equal(WebSocketClientState.Open, manager.ListClients()["down"]);
    }

    [Fact]
    public async Task ConnectAll_RetryFirstConnect_CancelledWhileAServerIsDown_TheClientGoesOnTrying()
    {
        var time = new FakeTimeProvider();
        int port = LoopbackListener.FreePort();
        await using var manager = new WebSocketClientManager(() => RetryingOptions(time));
        WebSocketClient down = manager.CreateClient("down", new Uri($"ws://127.0.0.1:{port}/"));
        var recorder = new ClientRecorder(down);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_timeout.Token);

        Task<IReadOnlyDictionary<string, Exception?>> connectAll = manager.ConnectAllAsync(cancel.Token);
        await ClientTestKit.WaitUntilAsync(() => down.State == WebSocketClientState.Disconnected, "the client waits to retry");
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connectAll.WaitAsync(_timeout.Token));

        // Only the wait ended: the client retries in the background, and a new call waits for that same connect.
        Assert.True(down.IsReconnecting);
        Assert.Equal(WebSocketClientState.Disconnected, down.State);
        Task<IReadOnlyDictionary<string, Exception?>> again = manager.ConnectAllAsync(_timeout.Token);
        await using var server = new RawWebSocketServer(port);
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _timeout.Token);
        time.Advance(TimeSpan.FromSeconds(1));
        await using RawConnection connection = await accept;

        Assert.Null((await again.WaitAsync(_timeout.Token))["down"]);
        Assert.True(down.IsOpen);
        Assert.DoesNotContain(recorder.Errors, e => e is InvalidOperationException);
        Assert.Equal(2, recorder.States.Count(s => s == "state:Connecting"));
    }

    [Fact]
    public async Task ConnectAll_RetryFirstConnect_FatalCauseReportedAtOnce_AndCloseAllEndsARetryingClient()
    {
        var time = new FakeTimeProvider();
        await using var manager = new WebSocketClientManager(() => RetryingOptions(time));
        var refused = new ClientRecorder(manager.CreateClient("refused", _host.GetUri("/reject/403")));
        WebSocketClient down = manager.CreateClient("down", new Uri($"ws://127.0.0.1:{LoopbackListener.FreePort()}/"));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_timeout.Token);

        Task<IReadOnlyDictionary<string, Exception?>> connectAll = manager.ConnectAllAsync(cancel.Token);
        await ClientTestKit.WaitUntilAsync(() => down.State == WebSocketClientState.Disconnected, "the down client waits to retry");
        await ClientTestKit.WaitUntilAsync(() => refused.States.Contains("state:Closed"), "the 403 ends the refused client's connect at once");
        Assert.Equal(["state:Connecting", "state:Closed"], refused.States);

        // CloseAllAsync stops the retrying client; its connect ends as closed.
        await manager.CloseAllAsync(cancellationToken: _timeout.Token);
        IReadOnlyDictionary<string, Exception?> results = await connectAll.WaitAsync(_timeout.Token);
        Assert.Equal(403, Assert.IsType<WebSocketHandshakeRejectedException>(results["refused"]).StatusCode);
        Assert.IsType<WebSocketClosedException>(results["down"]);
        Assert.All(manager.ListClients().Values, state => Assert.Equal(WebSocketClientState.Closed, state));
    }

    private static WebSocketClientOptions RetryingOptions(FakeTimeProvider time) => ClientTestKit.FastOptions(o =>
    {
        o.TimeProvider = time;
        o.Reconnect.InitialDelay = TimeSpan.FromSeconds(1);
        o.Reconnect.MaxDelay = TimeSpan.FromSeconds(10);
        o.Reconnect.RetryFirstConnect = true;
    });
}
