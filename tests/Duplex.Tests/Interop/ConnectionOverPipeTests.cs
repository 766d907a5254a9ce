using System.Net.WebSockets;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>
/// The connection over an in-memory duplex pipe instead of a socket, with .NET's own WebSocket engine as the server:
/// the framing engine needs nothing but a <see cref="Stream"/>.
/// </summary>
public sealed class ConnectionOverPipeTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = TestTimeouts.CreateSource();
    private DuplexPipeStream _clientStream = null!;
    private DuplexPipeStream _serverStream = null!;
    private WebSocket _server = null!;
    private WebSocketConnection _client = null!;

    public Task InitializeAsync()
    {
        (_clientStream, _serverStream) = DuplexPipeStream.CreatePair();
        _server = WebSocket.CreateFromStream(_serverStream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        _client = WebSocketConnection.FromStream(_clientStream, new WebSocketConnectionOptions
        {
            MaxMessageSize = 32 * 1024 * 1024,
            KeepAliveInterval = Timeout.InfiniteTimeSpan,
            CloseTimeout = TestTimeouts.Short,
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _client.DisposeAsync();
        _server.Dispose();
        await _serverStream.DisposeAsync();
        await _clientStream.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task FromStream_OverPipe_IsOpenWithoutHandshake()
    {
        Assert.Equal(WebSocketConnectionState.Open, _client.State);
        Assert.Null(_client.HandshakeResponse);
        Assert.Null(_client.SubProtocol);

        Task<ServerEcho> echo = RunServerEchoAsync();
        await _client.SendTextAsync("first", _timeout.Token);
        Assert.Equal("first", (await _client.ReceiveMessageAsync(_timeout.Token)).Text);
        await _client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, _timeout.Token);
        Assert.Equal(1, (await echo).Messages);
    }

    [Fact]
    public async Task SendAsync_TextAndBinaryOverPipe_AreEchoedIntact()
    {
        Task<ServerEcho> echo = RunServerEchoAsync();
        int[] sizes = [0, 1, 125, 126, 65535, 65536, 1024 * 1024];
        foreach (int size in sizes)
        {
            byte[] payload = new byte[size];
            new Random(size).NextBytes(payload);
            ValueTask<WebSocketMessage> receive = _client.ReceiveMessageAsync(_timeout.Token);
            await _client.SendBinaryAsync(payload, _timeout.Token);
            WebSocketMessage binary = await receive;
            Assert.Equal(WebSocketMessageType.Binary, binary.MessageType);
            Assert.True(payload.AsSpan().SequenceEqual(binary.Data.Span), $"The echoed {size} bytes differ.");

            string text = size == 0 ? string.Empty : string.Concat(Enumerable.Repeat("ä€😀", size / 9 + 1));
            await _client.SendTextAsync(text, _timeout.Token);
            WebSocketMessage echoed = await _client.ReceiveMessageAsync(_timeout.Token);
            Assert.Equal(WebSocketMessageType.Text, echoed.MessageType);
            Assert.True(string.Equals(text, echoed.Text, StringComparison.Ordinal), $"The echoed text of {text.Length} chars differs.");
        }

        await _client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, _timeout.Token);
        Assert.Equal(sizes.Length * 2, (await echo).Messages);
    }

    [Fact]
    public async Task PingAsync_OverPipe_ServerAnswers_ReturnsRoundTripTime()
    {
        // .NET's engine answers Pings while a receive is pending, which the echo loop always has.
        Task<ServerEcho> echo = RunServerEchoAsync();

        TimeSpan rtt = await _client.PingAsync("rtt"u8.ToArray(), _timeout.Token);

        Assert.True(rtt > TimeSpan.Zero, $"The round-trip time {rtt} is not positive.");
        Assert.Equal(rtt, _client.LastRoundTripTime);
        await _client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, _timeout.Token);
        await echo;
    }

    [Fact]
    public async Task CloseAsync_OverPipe_ServerSeesCodeAndReason_AndEchoArrives()
    {
        Task<ServerEcho> echo = RunServerEchoAsync();

        await _client.CloseAsync((WebSocketCloseStatus)4000, "done", _timeout.Token);

        ServerEcho server = await echo;
        Assert.Equal((WebSocketCloseStatus)4000, server.CloseStatus);
        Assert.Equal("done", server.CloseStatusDescription);
        Assert.Equal(WebSocketConnectionState.Closed, _client.State);
        Assert.Null(_client.CloseError);
        Assert.Equal((WebSocketCloseStatus)4000, _client.RemoteCloseStatus);
        Assert.Equal("done", _client.RemoteCloseStatusDescription);
    }

    [Fact]
    public async Task ReceiveMessageAsync_ServerClosesOverPipe_ReturnsCloseAndConnectionCloses()
    {
        Task serverClose = _server.CloseAsync((WebSocketCloseStatus)4001, "bye", _timeout.Token);

        WebSocketMessage message = await _client.ReceiveMessageAsync(_timeout.Token);

        Assert.True(message.IsClose, $"Expected a Close, got {message}.");
        Assert.Equal((WebSocketCloseStatus)4001, message.CloseStatus);
        Assert.Equal("bye", message.CloseStatusDescription);

        // The server's close completes once our answering Close arrives; then it ends the stream, as a server ends TCP.
        await serverClose;
        Assert.Equal(WebSocketState.Closed, _server.State);
        Assert.Equal((WebSocketCloseStatus)4001, _server.CloseStatus);
        _server.Dispose();
        await _serverStream.DisposeAsync();
        await _client.Completion.WaitAsync(_timeout.Token);
        Assert.Equal(WebSocketConnectionState.Closed, _client.State);
        Assert.Null(_client.CloseError);
    }

    [Fact]
    public async Task ReceiveMessageAsync_PipeEndsWithoutClose_ThrowsLostConnection()
    {
        ValueTask<WebSocketMessage> receive = _client.ReceiveMessageAsync(_timeout.Token);

        await _serverStream.DisposeAsync();

        var exception = await Assert.ThrowsAsync<WebSocketClosedException>(async () => await receive);
        Assert.Equal((WebSocketCloseStatus)1006, exception.CloseStatus);
        await _client.Completion.WaitAsync(_timeout.Token);
        Assert.Equal(WebSocketConnectionState.Closed, _client.State);
        Assert.IsType<WebSocketClosedException>(_client.CloseError);
    }

    /// <summary>
    /// Echoes every message at the server until the client's Close, answers it with the same code and reason, then
    /// ends the stream.
    /// </summary>
    private async Task<ServerEcho> RunServerEchoAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        int messages = 0;
        while (true)
        {
            ValueWebSocketReceiveResult result = await _server.ReceiveAsync(buffer.AsMemory(), _timeout.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await _server.CloseOutputAsync(
                    _server.CloseStatus ?? WebSocketCloseStatus.NormalClosure, _server.CloseStatusDescription, _timeout.Token);
                var echo = new ServerEcho(messages, _server.CloseStatus, _server.CloseStatusDescription);
                _server.Dispose();
                await _serverStream.DisposeAsync();
                return echo;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                await _server.SendAsync(message.GetBuffer().AsMemory(0, (int)message.Length), result.MessageType, endOfMessage: true, _timeout.Token);
                message.SetLength(0);
                messages++;
            }
        }
    }

    private sealed record ServerEcho(int Messages, WebSocketCloseStatus? CloseStatus, string? CloseStatusDescription);
}
