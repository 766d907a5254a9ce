using Duplex.Client;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Client;

/// <summary>
/// <see cref="WebSocketReconnectOptions.RetryFirstConnect"/>: the first connect follows the reconnect policy
/// with exact delays on a fake clock, throws what cannot get better at once, and ends cleanly when the policy
/// gives up, its token is cancelled, or the client is closed or disposed.
/// </summary>
public sealed class WebSocketClientRetryFirstConnectTests : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);

    private readonly FakeTimeProvider _time = new();
    private readonly CapturingLogger _logger = new();
    private readonly CancellationTokenSource _deadline = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));

    public void Dispose() => _deadline.Dispose();

    [Fact]
    public async Task PortListensAfterTwoRefusedAttempts_ConnectCompletesOnceOpen_WithThePolicysDelays()
    {
        int port = LoopbackListener.FreePort();
        await using var client = new WebSocketClient(Options());
        var recorder = new ClientRecorder(client);
        Task connect = client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), cancellationToken: _deadline.Token);

        // Attempt 0 is refused: 1 s to attempt 1 (jitter off), which is refused too: 2 s to attempt 2.
        await WaitForAsync(recorder, "state:Disconnected", 1);
        Assert.False(connect.IsCompleted);
        Assert.True(client.IsReconnecting);
        _time.Advance(TimeSpan.FromSeconds(1) - Tick);
        Assert.Equal(1, Count(recorder, "state:Connecting"));
        _time.Advance(Tick);
        await WaitForAsync(recorder, "state:Disconnected", 2);
        Assert.False(connect.IsCompleted);

        await using var server = new RawWebSocketServer(port);
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        _time.Advance(TimeSpan.FromSeconds(2) - Tick);
        Assert.Equal(2, Count(recorder, "state:Connecting"));
        _time.Advance(Tick);
        await using RawConnection connection = await accept;
        await connect.WaitAsync(_deadline.Token);

        Assert.Equal(WebSocketClientState.Open, client.State);
        Assert.False(client.IsReconnecting);
        Assert.Equal(["state:Connecting", "state:Disconnected", "state:Connecting", "state:Disconnected", "state:Connecting", "state:Open"], recorder.States);
        WebSocketConnectedContext connected = Assert.Single(recorder.Connected);
        Assert.Equal(2, connected.Attempt);
        Assert.False(connected.IsReconnect);
        Assert.Equal(2, recorder.Errors.Count);
        Assert.All(recorder.Errors, e => Assert.Equal(WebSocketConnectError.ConnectionRefused, Assert.IsType<WebSocketConnectException>(e).Error));

        // One Warning per failed attempt, as reconnects log them.
        Assert.Equal(2, _logger.Entries.Count(e => e.EventId.Name == "ClientConnectFailed" && e.Level == LogLevel.Warning));
        Assert.Equal(new[] { 1, 2 }, _logger.Entries.Where(e => e.EventId.Name == "ConnectRetryScheduled").Select(e => (int)e.State.First(kv => kv.Key == "Attempt").Value!));

        await client.SendTextAsync("up", _deadline.Token);
        Assert.Equal("up", (await connection.ReadFrameAsync(cancellationToken: _deadline.Token)).Text);
    }

    [Fact]
    public async Task ServerAnswers503WithRetryAfter_TheNextAttemptWaitsThatLong()
    {
        await using var server = new RawWebSocketServer();
        await using var client = new WebSocketClient(Options());
        var recorder = new ClientRecorder(client);
        Task connect = client.ConnectAsync(server.Uri, cancellationToken: _deadline.Token);
        await RejectNextAsync(server, 503, "Retry-After: 5\r\n");

        // The backoff says 1 s; the server said 5.
        await WaitForAsync(recorder, "state:Disconnected", 1);
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        _time.Advance(TimeSpan.FromSeconds(5) - Tick);
        Assert.Equal(1, Count(recorder, "state:Connecting"));
        _time.Advance(Tick);
        await using RawConnection connection = await accept;
        await connect.WaitAsync(_deadline.Token);

        Assert.Equal(WebSocketClientState.Open, client.State);
        Assert.Equal(503, Assert.IsType<WebSocketHandshakeRejectedException>(Assert.Single(recorder.Errors)).StatusCode);
    }

    [Theory]
    [InlineData(401)]
    [InlineData(403)]
    [InlineData(404)]
    public async Task HandshakeRejectedWith4xx_ThrownAtOnce(int status)
    {
        await using var server = new RawWebSocketServer();
        await using var client = new WebSocketClient(Options());
        var recorder = new ClientRecorder(client);
        Task connect = client.ConnectAsync(server.Uri, cancellationToken: _deadline.Token);
        await RejectNextAsync(server, status);

        var rejected = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(() => connect.WaitAsync(_deadline.Token));
        Assert.Equal(status, rejected.StatusCode);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.Equal(["state:Connecting", "state:Closed"], recorder.States);
        Assert.Equal(1, ConnectAttempts());
        Assert.Contains(_logger.Entries, e => e.EventId.Name == "ConnectGivenUp");
    }

    [Fact]
    public async Task HandshakeRejectedWith401_HeadersProducedAgainOnce_ThenThrown()
    {
        int produced = 0;
        await using var server = new RawWebSocketServer();
        await using var client = new WebSocketClient(Options(o => o.HeadersFactory = _ =>
            ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["Authorization"] = $"Bearer token-{Interlocked.Increment(ref produced)}" })));
        Task connect = client.ConnectAsync(server.Uri, cancellationToken: _deadline.Token);
        RawConnection first = await RejectNextAsync(server, 401);
        RawConnection second = await RejectNextAsync(server, 401);

        Assert.Equal(401, (await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(() => connect.WaitAsync(_deadline.Token))).StatusCode);
        Assert.Equal("Bearer token-1", first.Request!.Headers["Authorization"]);
        Assert.Equal("Bearer token-2", second.Request!.Headers["Authorization"]);
        Assert.Equal(2, produced);
        Assert.Equal(2, ConnectAttempts());
        Assert.Equal(WebSocketClientState.Closed, client.State);
    }

    [Fact]
    public async Task UntrustedCertificate_TlsFailureThrownAtOnce()
    {
        await using var server = new Http11TlsServer();
        await using var client = new WebSocketClient(Options());
        var recorder = new ClientRecorder(client);

        var failure = await Assert.ThrowsAsync<WebSocketConnectException>(() => client.ConnectAsync(server.Uri, cancellationToken: _deadline.Token));
        Assert.Equal(WebSocketConnectError.Tls, failure.Error);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.Equal(["state:Connecting", "state:Closed"], recorder.States);
        Assert.Equal(1, ConnectAttempts());
    }

    [Fact]
    public async Task InvalidUri_ThrownBeforeAnyAttempt()
    {
        await using var client = new WebSocketClient(Options());
        var recorder = new ClientRecorder(client);

        ArgumentException error = await Assert.ThrowsAsync<ArgumentException>(() => client.ConnectAsync(new Uri("ftp://127.0.0.1/"), _deadline.Token));
        Assert.Equal("uri", error.ParamName);
        Assert.Contains("'ftp'", error.Message, StringComparison.Ordinal);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.Empty(recorder.States);
        Assert.Equal(0, ConnectAttempts());
    }

    [Fact]
    public async Task MaxAttemptsReached_LastCauseThrown_StateClosed_AndTheNextConnectWorks()
    {
        int port = LoopbackListener.FreePort();
        await using var client = new WebSocketClient(Options(o => o.Reconnect.MaxAttempts = 2));
        var recorder = new ClientRecorder(client);
        Task connect = client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), cancellationToken: _deadline.Token);

        await WaitForAsync(recorder, "state:Disconnected", 1);
        _time.Advance(TimeSpan.FromSeconds(1));
        await WaitForAsync(recorder, "state:Disconnected", 2);
        _time.Advance(TimeSpan.FromSeconds(2));

        // The first attempt and two retries: the third refusal is what the connect throws.
        var failure = await Assert.ThrowsAsync<WebSocketConnectException>(() => connect.WaitAsync(_deadline.Token));
        Assert.Equal(WebSocketConnectError.ConnectionRefused, failure.Error);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.False(client.IsReconnecting);
        Assert.False(client.HasGivenUp);
        Assert.Equal(["state:Connecting", "state:Disconnected", "state:Connecting", "state:Disconnected", "state:Connecting", "state:Closed"], recorder.States);
        Assert.Equal(3, ConnectAttempts());
        await ClientTestKit.WaitUntilAsync(() => recorder.Errors.Count == 3, "every failed attempt is reported");
        Assert.Same(failure, recorder.Errors.Last());
        LogEntry gaveUp = Assert.Single(_logger.Entries, e => e.EventId.Name == "ConnectGivenUp");
        Assert.Equal(LogLevel.Error, gaveUp.Level);
        Assert.Contains("2 retries", gaveUp.Message, StringComparison.Ordinal);

        await using var server = new RawWebSocketServer(port);
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        await client.ConnectAsync(server.Uri, _deadline.Token);
        await using RawConnection connection = await accept;
        Assert.Equal(WebSocketClientState.Open, client.State);
    }

    [Fact]
    public async Task ShouldReconnect_IsAskedWithIsFirstConnect_AndCanStopTheRetries()
    {
        var asked = new List<WebSocketReconnectContext>();
        int port = LoopbackListener.FreePort();
        await using var client = new WebSocketClient(Options(o => o.Reconnect.ShouldReconnect = c => { asked.Add(c); return false; }));

        var failure = await Assert.ThrowsAsync<WebSocketConnectException>(() => client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), _deadline.Token));
        Assert.Equal(WebSocketConnectError.ConnectionRefused, failure.Error);
        WebSocketReconnectContext context = Assert.Single(asked);
        Assert.True(context.IsFirstConnect);
        Assert.True(context.DefaultDecision);
        Assert.Equal(1, context.Attempt);
        Assert.Same(failure, context.Exception);
        Assert.Equal(1, ConnectAttempts());
    }

    [Fact]
    public async Task CancelledDuringTheBackoffWait_OperationCanceled_NothingLeftRunning()
    {
        int port = LoopbackListener.FreePort();
        await using var client = new WebSocketClient(Options());
        var recorder = new ClientRecorder(client);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(_deadline.Token);
        Task connect = client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), cancellationToken: cancel.Token);
        await WaitForAsync(recorder, "state:Disconnected", 1);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connect.WaitAsync(_deadline.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.False(client.IsReconnecting);

        // The wait's timer went with the connect: time passing starts no attempt.
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, ConnectAttempts());
        Assert.Equal(["state:Connecting", "state:Disconnected", "state:Closed"], recorder.States);

        await using var server = new RawWebSocketServer(port);
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _deadline.Token);
        await client.ConnectAsync(server.Uri, _deadline.Token);
        await using RawConnection connection = await accept;
        Assert.Equal(2, ConnectAttempts());
    }

    [Fact]
    public async Task CloseAsyncDuringTheRetries_ConnectFailsAsClosed()
    {
        int port = LoopbackListener.FreePort();
        await using var client = new WebSocketClient(Options());
        var recorder = new ClientRecorder(client);
        Task connect = client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), cancellationToken: _deadline.Token);
        await WaitForAsync(recorder, "state:Disconnected", 1);

        await client.CloseAsync(cancellationToken: _deadline.Token);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => connect.WaitAsync(_deadline.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.False(client.IsReconnecting);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, ConnectAttempts());
    }

    [Fact]
    public async Task DisposeDuringTheRetries_ConnectFailsAsClosed()
    {
        int port = LoopbackListener.FreePort();
        var client = new WebSocketClient(Options());
        var recorder = new ClientRecorder(client);
        Task connect = client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"));
        await WaitForAsync(recorder, "state:Disconnected", 1);

        client.Dispose();
        await Assert.ThrowsAsync<WebSocketClosedException>(() => connect.WaitAsync(_deadline.Token));
        Assert.Equal(WebSocketClientState.Closed, client.State);
    }

    [Fact]
    public async Task OptionOff_TheFirstFailureIsThrown_AsBefore()
    {
        int port = LoopbackListener.FreePort();
        await using var client = new WebSocketClient(Options(o => o.Reconnect.RetryFirstConnect = false));
        var recorder = new ClientRecorder(client);

        var failure = await Assert.ThrowsAsync<WebSocketConnectException>(() => client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), _deadline.Token));
        Assert.Equal(WebSocketConnectError.ConnectionRefused, failure.Error);
        Assert.Equal(["state:Connecting", "state:Closed"], recorder.States);
        Assert.Empty(recorder.Errors);
    }

    private WebSocketClientOptions Options(Action<WebSocketClientOptions>? configure = null) => ClientTestKit.FastOptions(o =>
    {
        o.TimeProvider = _time;
        o.Logger = _logger;
        o.Reconnect.InitialDelay = TimeSpan.FromSeconds(1);
        o.Reconnect.MaxDelay = TimeSpan.FromSeconds(10);
        o.Reconnect.RetryFirstConnect = true;
        configure?.Invoke(o);
    });

    private int ConnectAttempts() => _logger.Entries.Count(e => e.EventId.Name == "ClientConnecting");

    private async Task<RawConnection> RejectNextAsync(RawWebSocketServer server, int status, string extraHeaders = "")
    {
        RawConnection connection = await server.AcceptAsync(cancellationToken: _deadline.Token);
        await connection.ReadRequestAsync(cancellationToken: _deadline.Token);
        string body = "not allowed";
        await connection.WriteRawAsync($"HTTP/1.1 {status} Nope\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\n{extraHeaders}Connection: close\r\n\r\n{body}", _deadline.Token);
        await connection.DisposeAsync();
        return connection;
    }

    private static Task WaitForAsync(ClientRecorder recorder, string state, int count) =>
        ClientTestKit.WaitUntilAsync(() => Count(recorder, state) >= count, $"{state} #{count}");

    internal static int Count(ClientRecorder recorder, string state) => recorder.States.Count(s => s == state);
}
