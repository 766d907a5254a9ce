using Duplex.Client;
using Duplex.Manager;
using Duplex.Tests.Client;
using Duplex.Tests.Infrastructure;

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
}
