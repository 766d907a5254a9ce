using System.Net.WebSockets;
using Duplex.Client;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Reliability;

/// <summary>
/// A connection and a client talking to Kestrel through the fault-injecting proxy: each way a link can die
/// ends the connection with the code that says how, and the client comes back.
/// </summary>
public sealed class ConnectionThroughFaultsTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _deadline = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));
    private KestrelWebSocketHost _host = null!;
    private FaultInjectingProxy _proxy = null!;

    private CancellationToken Token => _deadline.Token;

    public async Task InitializeAsync()
    {
        _host = await KestrelWebSocketHost.StartNewAsync(cancellationToken: Token);
        _proxy = new FaultInjectingProxy(_host.Port);
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _host.DisposeAsync();
        _deadline.Dispose();
    }

    [Fact]
    public async Task Reset_PendingReceiveFailsPromptlyWith1006()
    {
        await using WebSocketConnection connection = await ConnectEchoingAsync(KeepAliveOff());

        Task<WebSocketMessage> receive = connection.ReceiveMessageAsync(Token).AsTask();
        _proxy.ApplyToCurrent(ProxyFault.Reset);

        // Nothing but the reset can end this receive; the short bound only guards against a hang.
        var lost = await Assert.ThrowsAsync<WebSocketClosedException>(() => receive.WaitAsync(TestTimeouts.Short, Token));
        Assert.Equal((WebSocketCloseStatus)1006, lost.CloseStatus);
        Assert.Equal(WebSocketConnectionState.Closed, connection.State);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => connection.SendTextAsync("after the reset", Token).AsTask());
    }

    [Fact]
    public async Task Fin_WithoutClosingHandshake_EndsWith1006()
    {
        await using WebSocketConnection connection = await ConnectEchoingAsync(KeepAliveOff());

        _proxy.ApplyToCurrent(ProxyFault.Fin);

        await connection.Completion.WaitAsync(TestTimeouts.Short, Token);
        var lost = Assert.IsType<WebSocketClosedException>(connection.CloseError);
        Assert.Equal((WebSocketCloseStatus)1006, lost.CloseStatus);
        Assert.True(lost.ClosedByPeer);
    }

    [Fact]
    public async Task HalfOpen_ServerToClientShut_EndsWith1006()
    {
        await using WebSocketConnection connection = await ConnectEchoingAsync(KeepAliveOff());

        _proxy.ApplyToCurrent(ProxyFault.HalfOpen(ProxyDirection.ServerToClient));

        await connection.Completion.WaitAsync(TestTimeouts.Short, Token);
        Assert.Equal((WebSocketCloseStatus)1006, Assert.IsType<WebSocketClosedException>(connection.CloseError).CloseStatus);
    }

    [Fact]
    public async Task Stall_KeepAliveNoticesTheSilence_FailsWith1011()
    {
        await using WebSocketConnection connection = await ConnectEchoingAsync(FastKeepAlive());

        _proxy.ApplyToCurrent(ProxyFault.Stall());

        await connection.Completion.WaitAsync(TestTimeouts.Default, Token);
        var failed = Assert.IsType<WebSocketClosedException>(connection.CloseError);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, failed.CloseStatus);
        Assert.IsType<TimeoutException>(failed.InnerException);
    }

    [Fact]
    public async Task Drip_PongStuckBehindDataThatCrawls_FailsWith1011()
    {
        await using WebSocketConnection connection = await ConnectEchoingAsync(FastKeepAlive());
        _proxy.ApplyToCurrent(ProxyFault.Drip(64, TimeSpan.FromMilliseconds(50)));

        // At 64 bytes per 50 ms the echo of this takes minutes; the keepalive Pong would come after it.
        await connection.SendBinaryAsync(new byte[200_000], Token);

        await connection.Completion.WaitAsync(TestTimeouts.Default, Token);
        var failed = Assert.IsType<WebSocketClosedException>(connection.CloseError);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, failed.CloseStatus);
    }

    [Fact]
    public async Task Client_LinkReset_ReconnectsThroughTheProxy_AndSendsGoThroughAgain()
    {
        var options = new WebSocketClientOptions();
        options.Connection.KeepAliveInterval = Timeout.InfiniteTimeSpan;
        options.Connection.CloseTimeout = TimeSpan.FromSeconds(1);
        options.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(20);
        options.Reconnect.MaxDelay = TimeSpan.FromMilliseconds(100);
        await using var client = new WebSocketClient(options);
        var echoes = System.Threading.Channels.Channel.CreateUnbounded<string>();
        client.OnMessage((message, _) =>
        {
            echoes.Writer.TryWrite(message.Text!);
            return ValueTask.CompletedTask;
        });
        var reopened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnConnected((context, _) =>
        {
            if (context.IsReconnect)
            {
                reopened.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        await client.ConnectAsync(_proxy.GetUri("/echo"), cancellationToken: Token);
        await client.SendTextAsync("before", Token);
        Assert.Equal("before", await echoes.Reader.ReadAsync(Token));

        ProxyConnection first = _proxy.ApplyToCurrent(ProxyFault.Reset)!;
        await reopened.Task.WaitAsync(Token);
        await client.SendTextAsync("after", Token);

        Assert.Equal("after", await echoes.Reader.ReadAsync(Token));
        Assert.Equal(2, _proxy.Connections.Count);
        Assert.Equal(ProxyFaultKind.Reset, first.CutBy);
    }

    private static WebSocketConnectionOptions KeepAliveOff() => new() { KeepAliveInterval = Timeout.InfiniteTimeSpan, CloseTimeout = TimeSpan.FromSeconds(1) };

    private static WebSocketConnectionOptions FastKeepAlive() => new()
    {
        KeepAliveInterval = TimeSpan.FromMilliseconds(200),
        KeepAliveTimeout = TimeSpan.FromMilliseconds(300),
        CloseTimeout = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>Connects to the echo endpoint through the proxy and checks one round trip.</summary>
    private async Task<WebSocketConnection> ConnectEchoingAsync(WebSocketConnectionOptions options)
    {
        var connection = new WebSocketConnection(options);
        try
        {
            await connection.ConnectAsync(_proxy.GetUri("/echo"), Token);
            await connection.SendTextAsync("hello", Token);
            Assert.Equal("hello", (await connection.ReceiveMessageAsync(Token)).Text);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}
