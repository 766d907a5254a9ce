using System.Net.WebSockets;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// One Duplex client connected over real TCP on 127.0.0.1 to a <see cref="RawWebSocketServer"/>, the way
/// the Autobahn testsuite drives a client: the test scripts every byte the server sends and reads back every
/// frame the client sends. Every wait is bounded by <see cref="Token"/>.
/// </summary>
public sealed class ConformanceSession : IAsyncDisposable
{
    /// <summary>The close timeout every session uses unless a test sets its own: short, so a failure never waits 10 s.</summary>
    public static readonly TimeSpan DefaultCloseTimeout = TimeSpan.FromSeconds(2);

    private readonly CancellationTokenSource _timeout;

    private ConformanceSession(RawWebSocketServer server, RawConnection raw, WebSocketConnection client, CancellationTokenSource timeout)
    {
        Server = server;
        Raw = raw;
        Client = client;
        _timeout = timeout;
    }

    /// <summary>The scripted server.</summary>
    public RawWebSocketServer Server { get; }

    /// <summary>The server side of the connection.</summary>
    public RawConnection Raw { get; }

    /// <summary>The client under test.</summary>
    public WebSocketConnection Client { get; }

    /// <summary>Cancels when the whole test has taken too long, so nothing hangs.</summary>
    public CancellationToken Token => _timeout.Token;

    /// <summary>
    /// Starts a raw server and connects a client to it with <see cref="WebSocketConnection.ConnectAsync"/>. Keepalive is
    /// off and the close timeout is <see cref="DefaultCloseTimeout"/> unless <paramref name="configure"/> changes them.
    /// </summary>
    public static async Task<ConformanceSession> OpenAsync(Action<WebSocketConnectionOptions>? configure = null, TimeSpan? testTimeout = null)
    {
        var options = new WebSocketConnectionOptions
        {
            KeepAliveInterval = Timeout.InfiniteTimeSpan,
            CloseTimeout = DefaultCloseTimeout,
        };
        configure?.Invoke(options);
        var timeout = new CancellationTokenSource(testTimeout ?? TimeSpan.FromSeconds(20));
        var server = new RawWebSocketServer();
        var client = new WebSocketConnection(options);
        try
        {
            Task connect = client.ConnectAsync(server.Uri, timeout.Token);
            RawConnection raw = await server.AcceptWebSocketAsync(cancellationToken: timeout.Token);
            await connect.WaitAsync(timeout.Token);
            Assert.Equal(WebSocketConnectionState.Open, client.State);
            return new ConformanceSession(server, raw, client, timeout);
        }
        catch
        {
            client.Dispose();
            await server.DisposeAsync();
            timeout.Dispose();
            throw;
        }
    }

    /// <summary>Writes <paramref name="bytes"/> in writes of <paramref name="chunkSize"/> bytes each (TCP_NODELAY is on).</summary>
    public async Task WriteChunkedAsync(ReadOnlyMemory<byte> bytes, int chunkSize)
    {
        for (int offset = 0; offset < bytes.Length; offset += chunkSize)
        {
            await Raw.WriteRawAsync(bytes.Slice(offset, Math.Min(chunkSize, bytes.Length - offset)), Token);
        }
    }

    /// <summary>Writes <paramref name="bytes"/> whole (<paramref name="chunkSize"/> 0) or in chunks.</summary>
    public Task WriteAsync(ReadOnlyMemory<byte> bytes, int chunkSize = 0) =>
        chunkSize <= 0 ? Raw.WriteRawAsync(bytes, Token) : WriteChunkedAsync(bytes, chunkSize);

    /// <summary>Writes <paramref name="bytes"/> whole (<paramref name="chunkSize"/> 0) or in chunks.</summary>
    public Task WriteAsync(byte[] bytes, int chunkSize = 0) => WriteAsync(bytes.AsMemory(), chunkSize);

    /// <summary>
    /// Like <see cref="WriteAsync(ReadOnlyMemory{byte}, int)"/> for bytes that contain a violation: the client may fail the connection and close
    /// its socket while later chunks are still being written, so a write that fails because of that ends the writing
    /// instead of the test. Returns false when the rest could not be written.
    /// </summary>
    public async Task<bool> WriteViolationAsync(byte[] bytes, int chunkSize = 0)
    {
        try
        {
            await WriteAsync(bytes, chunkSize);
            return true;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Reads the client's next frame and checks that it is masked (RFC 6455 §5.3), as every client frame must be.</summary>
    public async Task<RawFrame> ReadClientFrameAsync(TimeSpan? timeout = null)
    {
        RawFrame frame = await Raw.ReadFrameAsync(timeout ?? TestTimeouts.Default, Token);
        Assert.True(frame.Masked, $"The client sent an unmasked frame (opcode 0x{frame.Opcode:X}).");
        Assert.NotNull(frame.MaskKey);
        Assert.Equal(0, frame.Rsv);
        return frame;
    }

    /// <summary>Reads the client's next frame and checks it is a masked, final frame with <paramref name="opcode"/>.</summary>
    public async Task<RawFrame> ReadClientFrameAsync(byte opcode)
    {
        RawFrame frame = await ReadClientFrameAsync();
        Assert.Equal(opcode, frame.Opcode);
        Assert.True(frame.Fin);
        return frame;
    }

    /// <summary>Reads the client's next frame, which must be a masked Close, and returns it parsed.</summary>
    public async Task<RawCloseFrame> ReadClientCloseAsync()
    {
        RawCloseFrame close = await Raw.ReadCloseFrameAsync(TestTimeouts.Default, skipOtherFrames: false, Token);
        Assert.True(close.Frame.Masked, "The client sent an unmasked Close frame.");
        Assert.True(close.Frame.Fin);
        Assert.Equal(0, close.Frame.Rsv);
        return close;
    }

    /// <summary>Receives the next message at the application, bounded.</summary>
    public Task<WebSocketMessage> ReceiveAsync() => Client.ReceiveMessageAsync(Token).AsTask().WaitAsync(Token);

    /// <summary>Receives the next message and checks it is the text <paramref name="expected"/>.</summary>
    public async Task ExpectTextAsync(string expected)
    {
        WebSocketMessage message = await ReceiveAsync();
        Assert.Equal(WebSocketMessageType.Text, message.MessageType);
        Assert.Equal(expected, message.Text);
    }

    /// <summary>Receives the next message and checks it is binary with exactly <paramref name="expected"/>.</summary>
    public async Task ExpectBinaryAsync(ReadOnlyMemory<byte> expected)
    {
        WebSocketMessage message = await ReceiveAsync();
        Assert.Equal(WebSocketMessageType.Binary, message.MessageType);
        Assert.Equal(expected.Length, message.Data.Length);
        Assert.True(expected.Span.SequenceEqual(message.Data.Span), "The binary message arrived altered.");
    }

    /// <summary>
    /// Sends a Ping from the server and checks the client's next frame is its Pong. Proves the client has processed
    /// everything the server sent before it, and that it sent nothing else in between.
    /// </summary>
    public async Task RoundTripPingAsync(string payload = "sync")
    {
        byte[] data = Encoding.UTF8.GetBytes(payload);
        await Raw.SendFrameAsync(0x9, data, cancellationToken: Token);
        RawFrame pong = await ReadClientFrameAsync(0xA);
        Assert.Equal(data, pong.Payload);
    }

    /// <summary>
    /// The client fails the connection once the application comes back for more: that receive throws a
    /// <see cref="WebSocketProtocolException"/> with <paramref name="expectedCode"/>, the client's next frame is a masked
    /// Close with that code, and the client ends TCP once the server has (RFC 6455 §7.1.1). Messages queued before the
    /// violation must have been received already.
    /// </summary>
    public async Task<WebSocketProtocolException> ExpectFailedAsync(ushort expectedCode)
    {
        WebSocketProtocolException error = await Assert.ThrowsAsync<WebSocketProtocolException>(ReceiveAsync);
        Assert.Equal((WebSocketCloseStatus)expectedCode, error.CloseStatus);

        RawCloseFrame close = await ReadClientCloseAsync();
        Assert.Equal(expectedCode, close.Code);
        Raw.ShutdownSend();
        Assert.True(await Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, Token), "The client did not close the TCP connection after failing it.");
        await Client.Completion.WaitAsync(Token);

        // Every later receive says the same.
        WebSocketProtocolException again = await Assert.ThrowsAsync<WebSocketProtocolException>(ReceiveAsync);
        Assert.Equal((WebSocketCloseStatus)expectedCode, again.CloseStatus);
        Assert.Equal(WebSocketConnectionState.Closed, Client.State);
        Assert.Equal((WebSocketCloseStatus)expectedCode, Client.LocalCloseStatus);
        WebSocketProtocolException recorded = Assert.IsType<WebSocketProtocolException>(Client.CloseError);
        Assert.Equal((WebSocketCloseStatus)expectedCode, recorded.CloseStatus);

        // Nothing more can be sent on a failed connection, and the error says so.
        await Assert.ThrowsAsync<WebSocketClosedException>(() => Client.SendTextAsync("after failure", Token).AsTask());
        return error;
    }

    /// <summary>
    /// Ends the test with a clean server-initiated close (RFC 6455 §7.1.2): the server sends Close 1000, the client
    /// echoes it masked, the server ends TCP, and the application sees a Close message with 1000.
    /// </summary>
    public async Task CloseFromServerAsync(ushort code = 1000, string reason = "done")
    {
        await Raw.SendCloseAsync(code, reason, Token);
        RawCloseFrame echo = await ReadClientCloseAsync();
        Assert.Equal(code, echo.Code);

        // RFC 6455 §7.1.1: the server closes the TCP connection first.
        Raw.ShutdownSend();
        WebSocketMessage message = await ReceiveAsync();
        Assert.True(message.IsClose);
        Assert.Equal((WebSocketCloseStatus)code, message.CloseStatus);
        Assert.Equal(reason, message.CloseStatusDescription);
        await Client.Completion.WaitAsync(Token);
        Assert.Equal(WebSocketConnectionState.Closed, Client.State);
        Assert.Null(Client.CloseError);
        Assert.True(await Raw.WaitForEndOfStreamAsync(TestTimeouts.Default, Token));
    }

    /// <summary>Aborts the client and stops the server. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        _timeout.Dispose();
    }
}
