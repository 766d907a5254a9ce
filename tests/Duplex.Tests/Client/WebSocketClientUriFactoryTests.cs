using System.Collections.Concurrent;
using Duplex.Client;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Client;

/// <summary>
/// <see cref="WebSocketClientOptions.UriFactory"/>: a URI per attempt, first connect and reconnects alike — failover
/// across endpoints, a token in the query that logs never show, and a bad result that fails at once.
/// </summary>
public sealed class WebSocketClientUriFactoryTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly CapturingLogger _logger = new();
    private readonly CancellationTokenSource _deadline = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));

    public void Dispose() => _deadline.Dispose();

    [Fact]
    public async Task FailoverAcrossTwoEndpoints_FirstRefused_SecondUsed_AndAgainOnReconnect()
    {
        await using var server = new RawWebSocketServer();
        Uri[] endpoints = [new($"ws://127.0.0.1:{LoopbackListener.FreePort()}/feed"), server.GetUri("/feed")];
        var contexts = new ConcurrentQueue<WebSocketUriContext>();
        await using var client = new WebSocketClient(Options(o => o.UriFactory = (context, _) =>
        {
            contexts.Enqueue(context);

            // Move on after a failed attempt; stay where the last connection was.
            int index = context.PreviousUri is null ? 0 : Array.IndexOf(endpoints, context.PreviousUri);
            return ValueTask.FromResult(context.PreviousFailure is WebSocketConnectException ? endpoints[(index + 1) % endpoints.Length] : endpoints[index]);
        }));
        var recorder = new ClientRecorder(client);
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        Task connect = client.ConnectAsync(endpoints[0], _deadline.Token);

        await ClientTestKit.WaitUntilAsync(() => client.State == WebSocketClientState.Disconnected, "the wait after the refused endpoint");
        _time.Advance(TimeSpan.FromSeconds(1));
        RawConnection first = await accept;
        await connect.WaitAsync(_deadline.Token);
        Assert.Equal("/feed", first.Request!.Target);
        Assert.Equal(1, Assert.Single(recorder.Connected).Attempt);

        WebSocketUriContext[] seen = [.. contexts];
        Assert.Equal(2, seen.Length);
        Assert.Equal((0, false, (Uri?)null, false), (seen[0].Attempt, seen[0].IsReconnect, seen[0].PreviousUri, seen[0].PreviousFailure is not null));
        Assert.Equal(endpoints[0], seen[0].ConnectUri);
        Assert.Equal((1, false, endpoints[0]), (seen[1].Attempt, seen[1].IsReconnect, seen[1].PreviousUri));
        Assert.Equal(WebSocketConnectError.ConnectionRefused, Assert.IsType<WebSocketConnectException>(seen[1].PreviousFailure).Error);

        // The server restarts (1012): the reconnect asks the factory too, and stays on the endpoint that worked.
        accept = server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        await first.SendCloseAsync(1012, "restarting", _deadline.Token);
        await first.ReadCloseFrameAsync(cancellationToken: _deadline.Token);
        await first.DisposeAsync();
        await ClientTestKit.WaitUntilAsync(() => client.State == WebSocketClientState.Disconnected, "the wait before the reconnect");
        _time.Advance(TimeSpan.FromSeconds(2));
        await using RawConnection second = await accept;
        await ClientTestKit.WaitUntilAsync(() => recorder.Connected.Count == 2, "the reconnect");

        WebSocketUriContext reconnect = contexts.Last();
        Assert.Equal(3, contexts.Count);
        Assert.True(reconnect.IsReconnect);
        Assert.Equal(endpoints[1], reconnect.PreviousUri);
        Assert.Null(reconnect.PreviousFailure);
        Assert.Equal(2, reconnect.Attempt);
        Assert.Equal(endpoints[0], reconnect.ConnectUri);
        Assert.Equal(server.Port, recorder.Connected.Last().Uri.Port);
        Assert.Equal(endpoints[0], client.Uri);
    }

    [Fact]
    public async Task TokenInTheQuery_ProducedPerAttempt_LogsShowItMasked()
    {
        await using var server = new RawWebSocketServer();
        int produced = 0;
        await using var client = new WebSocketClient(Options(o => o.UriFactory = (context, _) =>
            ValueTask.FromResult(new Uri(context.ConnectUri, $"/feed?token=secret-{Interlocked.Increment(ref produced)}"))));
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        await client.ConnectAsync(server.Uri, _deadline.Token);
        RawConnection first = await accept;
        Assert.Equal("/feed?token=secret-1", first.Request!.Target);

        accept = server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        first.Abort();
        await ClientTestKit.WaitUntilAsync(() => client.State == WebSocketClientState.Disconnected, "the wait before the reconnect");
        _time.Advance(TimeSpan.FromSeconds(1));
        await using RawConnection second = await accept;
        Assert.Equal("/feed?token=secret-2", second.Request!.Target);
        await ClientTestKit.WaitUntilAsync(() => client.IsOpen, "the reconnect");

        Assert.DoesNotContain("secret-", _logger.AllText, StringComparison.Ordinal);
        Assert.Equal(2, _logger.Entries.Count(e => e.EventId.Name == "ClientConnecting" && e.Message.Contains("/feed?token=***", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task HandshakeRejectedWith401_UriProducedAgainOnce()
    {
        await using var server = new RawWebSocketServer();
        var contexts = new ConcurrentQueue<WebSocketUriContext>();
        await using var client = new WebSocketClient(Options(o => o.UriFactory = (context, _) =>
        {
            contexts.Enqueue(context);
            return ValueTask.FromResult(new Uri(context.ConnectUri, $"/?token=t{contexts.Count}"));
        }));
        Task connect = client.ConnectAsync(server.Uri, _deadline.Token);
        RawConnection rejected = await server.AcceptAsync(cancellationToken: _deadline.Token);
        await rejected.ReadRequestAsync(cancellationToken: _deadline.Token);
        await rejected.WriteRawAsync("HTTP/1.1 401 Expired\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", _deadline.Token);
        await rejected.DisposeAsync();
        await using RawConnection accepted = await server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        await connect.WaitAsync(_deadline.Token);

        Assert.Equal("/?token=t1", rejected.Request!.Target);
        Assert.Equal("/?token=t2", accepted.Request!.Target);
        WebSocketUriContext again = contexts.Last();
        Assert.Equal(0, again.Attempt);
        Assert.Equal(401, Assert.IsType<WebSocketHandshakeRejectedException>(again.PreviousFailure).StatusCode);
    }

    [Theory]
    [InlineData(null, "returned null")]
    [InlineData("ftp://127.0.0.1/", "'ftp'")]
    [InlineData("ws://127.0.0.1/#fragment", "fragment")]
    [InlineData("/relative", "absolute")]
    public async Task FactoryReturnsNoValidUri_InvalidOperationNamingTheOption_ThrownAtOnce(string? produced, string expected)
    {
        await using var server = new RawWebSocketServer();
        await using var client = new WebSocketClient(Options(o => o.UriFactory = (_, _) =>
            ValueTask.FromResult(produced is null ? null! : new Uri(produced, UriKind.RelativeOrAbsolute))));
        var recorder = new ClientRecorder(client);

        InvalidOperationException error = await Assert.ThrowsAsync<InvalidOperationException>(() => client.ConnectAsync(server.Uri, _deadline.Token));
        Assert.Contains("WebSocketClientOptions.UriFactory", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(["state:Connecting", "state:Closed"], recorder.States);
        Assert.DoesNotContain(_logger.Entries, e => e.EventId.Name == "ClientConnecting");
    }

    private WebSocketClientOptions Options(Action<WebSocketClientOptions> configure) => ClientTestKit.FastOptions(o =>
    {
        o.TimeProvider = _time;
        o.Logger = _logger;
        o.Reconnect.InitialDelay = TimeSpan.FromSeconds(1);
        o.Reconnect.MaxDelay = TimeSpan.FromSeconds(10);
        o.Reconnect.RetryFirstConnect = true;
        configure(o);
    });
}
