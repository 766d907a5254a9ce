using Duplex.Client;
using Duplex.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Duplex.Tests.Client;

/// <summary>
/// Reconnect timing with an injected clock and jitter source: every delay is known exactly, and the
/// client makes no attempt one tick before it is due.
/// </summary>
public sealed class WebSocketClientBackoffTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromTicks(1);

    [Fact]
    public void Backoff_GrowsExponentially_WithJitterAndCap()
    {
        var policy = new WebSocketReconnectOptions { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(30), BackoffMultiplier = 2, Jitter = 0.2 };
        Assert.Equal(TimeSpan.FromMilliseconds(800), ReconnectRules.Backoff(policy, 1, 0.0));
        Assert.Equal(TimeSpan.FromMilliseconds(1000), ReconnectRules.Backoff(policy, 1, 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(2200), ReconnectRules.Backoff(policy, 2, 0.75));
        Assert.Equal(TimeSpan.FromMilliseconds(3600), ReconnectRules.Backoff(policy, 3, 0.25));
        Assert.Equal(TimeSpan.FromSeconds(16), ReconnectRules.Backoff(policy, 5, 0.5));

        // The cap holds after jitter too.
        Assert.Equal(TimeSpan.FromMilliseconds(29_880), ReconnectRules.Backoff(policy, 20, 0.99));
        Assert.Equal(TimeSpan.FromSeconds(18), ReconnectRules.Backoff(policy, 20, 0.0));
    }

    [Fact]
    public void Backoff_AtTheCap_SpreadsOverTheWholeWindow_InsteadOfPilingUpOnMaxDelay()
    {
        var policy = new WebSocketReconnectOptions { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(30), BackoffMultiplier = 2, Jitter = 0.2 };
        TimeSpan[] delays = [.. Enumerable.Range(0, 1000).Select(i => ReconnectRules.Backoff(policy, 50, i / 1000.0))];

        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromSeconds(18), TimeSpan.FromSeconds(30)));
        Assert.True(delays.Count(d => d == policy.MaxDelay) <= 1, "Delays at the cap pile up on MaxDelay.");

        // Uniform over the window: each tenth of it gets about a tenth of the delays.
        int[] tenths = new int[10];
        foreach (TimeSpan d in delays)
        {
            tenths[Math.Min(9, (int)((d.TotalSeconds - 18) / 1.2))]++;
        }

        Assert.All(tenths, n => Assert.InRange(n, 90, 110));
    }

    [Fact]
    public async Task ServerGone_AttemptsFollowExactDelays_ThenGiveUpAfterMaxAttempts()
    {
        var time = new FakeTimeProvider();
        await using var server = new RawWebSocketServer();
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            o.TimeProvider = time;
            o.Random = new ScriptedRandom(0.0, 0.75, 0.25, 0.5);
            o.Reconnect.InitialDelay = TimeSpan.FromSeconds(1);
            o.Reconnect.MaxDelay = TimeSpan.FromSeconds(5);
            o.Reconnect.Jitter = 0.2;
            o.Reconnect.MaxAttempts = 4;
        });
        await using var client = new WebSocketClient(options);
        var recorder = new ClientRecorder(client);
        using CancellationTokenSource timeout = TestTimeouts.CreateSource();
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: timeout.Token);
        await client.ConnectAsync(server.Uri, cancellationToken: timeout.Token);
        RawConnection connection = await accept;

        // The server goes away for good: every attempt is refused.
        await server.DisposeAsync();
        connection.Abort();

        TimeSpan[] expected = [TimeSpan.FromMilliseconds(800), TimeSpan.FromMilliseconds(2200), TimeSpan.FromMilliseconds(3600), TimeSpan.FromMilliseconds(4000)];
        for (int i = 0; i < expected.Length; i++)
        {
            await ClientTestKit.WaitUntilAsync(() => Count(recorder, "state:Disconnected") == i + 1, $"the wait before attempt {i + 1}");
            time.Advance(expected[i] - Tick);
            Assert.Equal(i + 1, Count(recorder, "state:Connecting"));
            time.Advance(Tick);
            await ClientTestKit.WaitUntilAsync(() => Count(recorder, "state:Connecting") == i + 2, $"attempt {i + 1}");
        }

        await ClientTestKit.WaitUntilAsync(() => !client.IsReconnecting && Count(recorder, "state:Disconnected") == 5, "the client gives up");
        await ClientTestKit.WaitUntilAsync(() => recorder.Errors.Count == 4, "each failed attempt is reported");
        Assert.All(recorder.Errors, e => Assert.Equal(WebSocketConnectError.ConnectionRefused, Assert.IsType<WebSocketConnectException>(e).Error));
        WebSocketDisconnectedContext lost = Assert.Single(recorder.Disconnected);
        Assert.Equal(expected[0], lost.ReconnectDelay);
        Assert.Equal(WebSocketClientState.Disconnected, client.State);
    }

    [Fact]
    public async Task ServerAcceptsAndClosesAtOnce_BackoffKeepsGrowing_ResetsOnlyAfterStableConnection()
    {
        var time = new FakeTimeProvider();
        await using var server = new RawWebSocketServer();
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            o.TimeProvider = time;
            o.Random = new ScriptedRandom(0.5);
            o.Reconnect.InitialDelay = TimeSpan.FromSeconds(1);
            o.Reconnect.MaxDelay = TimeSpan.FromSeconds(60);
            o.Reconnect.Jitter = 0.2;
            o.Reconnect.ResetAfter = TimeSpan.FromSeconds(10);
        });
        await using var client = new WebSocketClient(options);
        var recorder = new ClientRecorder(client);
        using CancellationTokenSource timeout = TestTimeouts.CreateSource();
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: timeout.Token);
        await client.ConnectAsync(server.Uri, cancellationToken: timeout.Token);
        RawConnection connection = await accept;

        // Three connections that die at once: 1 s, 2 s, 4 s — no tight loop.
        TimeSpan[] expected = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)];
        for (int i = 0; i < expected.Length; i++)
        {
            accept = server.AcceptWebSocketAsync(cancellationToken: timeout.Token);
            await RestartAsync(connection, timeout.Token);
            await ClientTestKit.WaitUntilAsync(() => recorder.Disconnected.Count == i + 1, $"loss {i + 1} reported");
            Assert.Equal(expected[i], recorder.Disconnected.ElementAt(i).ReconnectDelay);
            await ClientTestKit.WaitUntilAsync(() => client.State == WebSocketClientState.Disconnected, "waiting to reconnect");
            time.Advance(expected[i]);
            connection = await accept;
            await ClientTestKit.WaitUntilAsync(() => recorder.Connected.Count == i + 2, $"reconnect {i + 1}");
        }

        // A connection that stays up past ResetAfter starts the backoff afresh.
        time.Advance(TimeSpan.FromSeconds(10));
        await RestartAsync(connection, timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => recorder.Disconnected.Count == 4, "loss 4 reported");
        Assert.Equal(TimeSpan.FromSeconds(1), recorder.Disconnected.ElementAt(3).ReconnectDelay);
    }

    /// <summary>The server closes with 1012 and, once the client answered, ends the TCP connection.</summary>
    private static async Task RestartAsync(RawConnection connection, CancellationToken cancellationToken)
    {
        await connection.SendCloseAsync(1012, "restarting", cancellationToken);
        await connection.ReadCloseFrameAsync(cancellationToken: cancellationToken);
        await connection.DisposeAsync();
    }

    private static int Count(ClientRecorder recorder, string state) => recorder.States.Count(s => s == state);
}
