using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Connection;

/// <summary>
/// The same message sequences against .NET's own WebSocket engine as the server side: what one side
/// sends, the other receives intact, fragmented or not, with control frames in between.
/// </summary>
public sealed class DotNetEngineDifferentialTests : IAsyncLifetime
{
    private LoopbackStreams _streams = null!;
    private WebSocket _server = null!;
    private WebSocketConnection _client = null!;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

    public async Task InitializeAsync()
    {
        _streams = await LoopbackStreams.CreateAsync();
        _server = WebSocket.CreateFromStream(_streams.Server, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
        _client = WebSocketConnection.FromStream(_streams.Client, new WebSocketConnectionOptions { MaxMessageSize = 32 * 1024 * 1024 });
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        _server.Dispose();
        await _streams.DisposeAsync();
        _timeout.Dispose();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(1024 * 1024)]
    [InlineData(16 * 1024 * 1024)]
    public async Task BinaryMessage_FromClient_ArrivesIntactAtServer(int size)
    {
        byte[] payload = RandomNumberGenerator.GetBytes(size);
        Task send = _client.SendBinaryAsync(payload, _timeout.Token).AsTask();
        (WebSocketMessageType type, byte[] received) = await ReceiveAtServerAsync();
        await send;
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.True(payload.AsSpan().SequenceEqual(received));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65536)]
    [InlineData(16 * 1024 * 1024)]
    public async Task BinaryMessage_FromServer_ArrivesIntactAtClient(int size)
    {
        byte[] payload = RandomNumberGenerator.GetBytes(size);
        Task send = _server.SendAsync(payload, WebSocketMessageType.Binary, true, _timeout.Token);
        WebSocketMessage message = await _client.ReceiveMessageAsync(_timeout.Token);
        await send;
        Assert.Equal(WebSocketMessageType.Binary, message.MessageType);
        Assert.True(payload.AsSpan().SequenceEqual(message.Data.Span));
    }

    [Fact]
    public async Task TextMessages_BothWays_ArriveInOrder()
    {
        string[] texts = ["", "a", "héllo wörld", "日本語のテキスト", "emoji 😀 split", new string('x', 70_000)];
        foreach (string text in texts)
        {
            await _client.SendTextAsync(text, _timeout.Token);
        }

        foreach (string text in texts)
        {
            (WebSocketMessageType type, byte[] data) = await ReceiveAtServerAsync();
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal(text, Encoding.UTF8.GetString(data));
            await _server.SendAsync(data, WebSocketMessageType.Text, true, _timeout.Token);
        }

        foreach (string text in texts)
        {
            WebSocketMessage message = await _client.ReceiveMessageAsync(_timeout.Token);
            Assert.Equal(WebSocketMessageType.Text, message.MessageType);
            Assert.Equal(text, message.Text);
        }
    }

    [Fact]
    public async Task FragmentedMessage_FromServer_IsReassembled()
    {
        byte[] whole = Encoding.UTF8.GetBytes("fragmented 😀 text across frames");
        // Split inside the 4-byte emoji so UTF-8 validation has to carry state across frames.
        int[] cuts = [0, 3, 13, 15, 20, whole.Length];
        for (int i = 0; i < cuts.Length - 1; i++)
        {
            await _server.SendAsync(whole.AsMemory(cuts[i], cuts[i + 1] - cuts[i]), WebSocketMessageType.Text, i == cuts.Length - 2, _timeout.Token);
        }

        WebSocketMessage message = await _client.ReceiveMessageAsync(_timeout.Token);
        Assert.Equal("fragmented 😀 text across frames", message.Text);
    }

    [Fact]
    public async Task MessageWriter_SendsFragments_ServerSeesOneMessage()
    {
        await using (WebSocketMessageWriter writer = await _client.CreateMessageWriterAsync(WebSocketMessageType.Binary, _timeout.Token))
        {
            await writer.WriteAsync(new byte[] { 1, 2, 3 }, _timeout.Token);
            await _client.PingAsync(new byte[] { 9 }, _timeout.Token).AsTask().WaitAsync(TimeSpan.Zero).ContinueWith(_ => { }, TaskScheduler.Default);
            await writer.WriteAsync(new byte[] { 4, 5 }, _timeout.Token);
            await writer.CompleteAsync(new byte[] { 6 }, _timeout.Token);
        }

        (WebSocketMessageType type, byte[] data) = await ReceiveAtServerAsync();
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, data);
    }

    [Fact]
    public async Task PingAsync_ServerAnswersPong_ReturnsRoundTripTime()
    {
        // .NET's engine only answers Pings while a receive is pending.
        Task<(WebSocketMessageType, byte[])> serverReceive = ReceiveAtServerAsync();
        TimeSpan rtt = await _client.PingAsync("hello"u8.ToArray(), _timeout.Token);
        Assert.True(rtt > TimeSpan.Zero);
        Assert.Equal(rtt, _client.LastRoundTripTime);
        await _client.SendTextAsync("done", _timeout.Token);
        await serverReceive;
    }

    [Fact]
    public async Task ConcurrentSenders_SixteenThreads_NoInterleavingOrLoss()
    {
        const int Threads = 16;
        const int PerThread = 200;
        Task[] senders = Enumerable.Range(0, Threads).Select(t => Task.Run(async () =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                // Sizes vary so that frames of different lengths share writes.
                string text = $"{t}:{i}:" + new string((char)('a' + t), (i * 37) % 3000);
                await _client.SendTextAsync(text, _timeout.Token);
            }
        })).ToArray();

        var next = new int[Threads];
        for (int n = 0; n < Threads * PerThread; n++)
        {
            (WebSocketMessageType type, byte[] data) = await ReceiveAtServerAsync();
            string text = Encoding.UTF8.GetString(data);
            string[] parts = text.Split(':', 3);
            int t = int.Parse(parts[0]);
            int i = int.Parse(parts[1]);
            Assert.Equal(next[t], i);
            Assert.Equal(new string((char)('a' + t), (i * 37) % 3000), parts[2]);
            next[t]++;
        }

        await Task.WhenAll(senders);
        Assert.All(next, count => Assert.Equal(PerThread, count));
    }

    [Fact]
    public async Task CloseAsync_FromClient_CompletesHandshakeWithBothCodes()
    {
        Task<(WebSocketMessageType, byte[])> serverReceive = ReceiveAtServerAsync();
        Task close = _client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", _timeout.Token);
        (WebSocketMessageType type, _) = await serverReceive;
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, _server.CloseStatus);
        Assert.Equal("bye", _server.CloseStatusDescription);
        await _server.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", _timeout.Token);
        await close;
        Assert.Equal(WebSocketConnectionState.Closed, _client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, _client.LocalCloseStatus);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, _client.RemoteCloseStatus);
        Assert.Equal("ok", _client.RemoteCloseStatusDescription);
        Assert.Null(_client.CloseError);
    }

    [Fact]
    public async Task CloseFromServer_ClientEchoesCodeAndReportsClose()
    {
        await _server.SendAsync("last"u8.ToArray(), WebSocketMessageType.Text, true, _timeout.Token);
        Task serverClose = _server.CloseAsync((WebSocketCloseStatus)4001, "going", _timeout.Token);
        WebSocketMessage last = await _client.ReceiveMessageAsync(_timeout.Token);
        Assert.Equal("last", last.Text);
        WebSocketMessage close = await _client.ReceiveMessageAsync(_timeout.Token);
        Assert.True(close.IsClose);
        Assert.Equal((WebSocketCloseStatus)4001, close.CloseStatus);
        Assert.Equal("going", close.CloseStatusDescription);
        await serverClose;
        Assert.Equal((WebSocketCloseStatus)4001, _server.CloseStatus);
        await _client.Completion.WaitAsync(_timeout.Token);
        Assert.Equal(WebSocketConnectionState.Closed, _client.State);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => _client.SendTextAsync("too late").AsTask());
    }

    [Fact]
    public async Task ReceiveAsync_CanceledWhileWaiting_KeepsConnectionOpen()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.ReceiveMessageAsync(cancel.Token).AsTask());
        Assert.Equal(WebSocketConnectionState.Open, _client.State);
        await _server.SendAsync("still here"u8.ToArray(), WebSocketMessageType.Text, true, _timeout.Token);
        WebSocketMessage message = await _client.ReceiveMessageAsync(_timeout.Token);
        Assert.Equal("still here", message.Text);
    }

    [Fact]
    public async Task ReceiveAsync_SmallBuffer_StreamsLargeMessageInPieces()
    {
        byte[] payload = RandomNumberGenerator.GetBytes(300_000);
        Task send = _server.SendAsync(payload, WebSocketMessageType.Binary, true, _timeout.Token);
        var received = new MemoryStream();
        byte[] buffer = new byte[7000];
        while (true)
        {
            ValueWebSocketReceiveResult result = await _client.ReceiveAsync(buffer, _timeout.Token);
            Assert.Equal(WebSocketMessageType.Binary, result.MessageType);
            received.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                break;
            }
        }

        await send;
        Assert.True(payload.AsSpan().SequenceEqual(received.ToArray()));
    }

    private async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveAtServerAsync()
    {
        var data = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        while (true)
        {
            WebSocketReceiveResult result = await _server.ReceiveAsync(buffer, _timeout.Token);
            data.Write(buffer, 0, result.Count);
            if (result.EndOfMessage || result.MessageType == WebSocketMessageType.Close)
            {
                return (result.MessageType, data.ToArray());
            }
        }
    }
}
