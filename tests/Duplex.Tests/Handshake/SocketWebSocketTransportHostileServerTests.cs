using System.Net.WebSockets;
using System.Text;
using Duplex.Connection;
using Duplex.Handshake;
using Duplex.Handshake.Rules;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Handshake;

/// <summary>
/// The hostile-server scenarios through the socket transport, plus what only its own HTTP/1.1
/// reader does: strict line rules, and frames that arrive together with the 101.
/// </summary>
public sealed class SocketWebSocketTransportHostileServerTests : HostileServerTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() => new WebSocketTransportSelector(new SocketWebSocketTransport(), new HttpWebSocketTransport());

    [Fact]
    public async Task ConnectAsync_FrameInTheSameWriteAsThe101_IsReadFirst()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.WriteRawAsync(Response101With(request, RawConnection.Frame(0x1, "welcome"u8)), timeout.Token);

        await using WebSocketHandshakeResult result = await connect;
        using WebSocket webSocket = WebSocket.CreateFromStream(result.Stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        ReceivedMessage welcome = await webSocket.ReceiveMessageAsync(timeout.Token);
        await connection.SendTextAsync("second", timeout.Token);
        ReceivedMessage second = await webSocket.ReceiveMessageAsync(timeout.Token);

        Assert.Equal("welcome", welcome.Text);
        Assert.Equal("second", second.Text);
    }

    [Fact]
    public async Task ConnectAsync_FramesLargerThanTheReadBufferWithThe101_AreDeliveredWhole()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        byte[] payload = new byte[3 * SocketWebSocketTransport.InitialReadBufferBytes];
        Random.Shared.NextBytes(payload);
        await connection.WriteRawAsync(Response101With(request, [.. RawConnection.Frame(0x9, "p"u8), .. RawConnection.Frame(0x2, payload)]), timeout.Token);

        await using WebSocketHandshakeResult result = await connect;
        using WebSocket webSocket = WebSocket.CreateFromStream(result.Stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        ReceivedMessage message = await webSocket.ReceiveMessageAsync(timeout.Token);

        Assert.Equal(payload, message.Payload);
    }

    [Fact]
    public async Task Connection_MessageSentWithThe101_IsReceived_AndTheConnectionWorks()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        var options = new WebSocketConnectionOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan, CloseTimeout = TestTimeouts.Short, Transport = Transport };
        await using var client = new WebSocketConnection(options);
        Task connect = client.ConnectAsync(server.Uri, timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.WriteRawAsync(Response101With(request, [.. RawConnection.Frame(0x1, "hel"u8, fin: false), .. RawConnection.Frame(0x0, "lo"u8)]), timeout.Token);
        await connect;

        WebSocketMessage message = await client.ReceiveMessageAsync(timeout.Token);
        await client.SendTextAsync("back", timeout.Token);
        RawFrame echoed = await connection.ReadFrameAsync(cancellationToken: timeout.Token);

        Assert.Equal("hello", message.Text);
        Assert.Equal("back", Encoding.UTF8.GetString(echoed.Payload));
    }

    [Theory]
    [InlineData("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\r\n\r\n", "bare LF")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\n\r\n", "bare LF")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\n", "bare LF")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nX-A: b\0c\r\n\r\n", "NUL")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nX-A: b\rc\r\n\r\n", "control character")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nX-A: b\u0001c\r\n\r\n", "control character")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nX-A: b\r\n c\r\n\r\n", "obs-fold")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nX-A : b\r\n\r\n", "name followed by a colon")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\n: b\r\n\r\n", "name followed by a colon")]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nno colon\r\n\r\n", "name followed by a colon")]
    [InlineData("HTTP/1.1 1O1 Switching Protocols\r\n\r\n", "status line")]
    [InlineData("http/1.1 101 Switching Protocols\r\n\r\n", "status line")]
    [InlineData("HTTP/2 101 Switching Protocols\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1  101 Switching Protocols\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 101Switching Protocols\r\n\r\n", "status line")]
    [InlineData("\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n", "status line")]
    public async Task ConnectAsync_MalformedResponseHead_FailsWithInvalidHandshakeNamingTheRule(string response, string rule)
    {
        WebSocketConnectException exception = await FailAgainstAsync(response);

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("invalid HTTP", exception.Message, StringComparison.Ordinal);
        Assert.Contains(rule, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_OverLongHeaderLine_FailsBeforeItEnds()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        var options = new WebSocketHandshakeOptions { MaxResponseHeadersBytes = 1024 * 1024 };
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: timeout.Token);

        // The line never ends: the reader must give up at the line limit, not wait for more.
        await connection.WriteRawAsync("HTTP/1.1 101 Switching Protocols\r\nX-Long: " + new string('a', Http11ResponseHead.MaxLineBytes), timeout.Token);
        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(() => connect);

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains($"longer than {Http11ResponseHead.MaxLineBytes} bytes", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_101OverHttp10_FailsWithInvalidHandshake()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            key => $"HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(key)}\r\n\r\n");

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("HTTP/1.0", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_RejectionOverHttp10_IsReported()
    {
        WebSocketConnectException exception = await FailAgainstAsync("HTTP/1.0 403 Forbidden\r\nContent-Length: 2\r\n\r\nno");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(403, rejected.StatusCode);
        Assert.Equal("no", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_MalformedChunkedRejectionBody_StillReportsStatusAndHeaders()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\nWWW-Authenticate: Bearer\r\n\r\n4\r\nauth\r\nzz\r\n");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(401, rejected.StatusCode);
        Assert.Equal("Bearer", Assert.Single(rejected.Headers["WWW-Authenticate"]));
        Assert.Equal("auth", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_ConflictingContentLengths_ReportsNoBody()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(string.Empty, rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_Http2Required_IsHandedToTheHttpTransport()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http2Cleartext, timeout.Token);
        var options = new WebSocketHandshakeOptions
        {
            HttpVersion = System.Net.HttpVersion.Version20,
            HttpVersionPolicy = System.Net.Http.HttpVersionPolicy.RequestVersionExact,
        };

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(System.Net.HttpVersion.Version20, result.Response.HttpVersion);
        await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    private static byte[] Response101With(RawHttpRequest request, byte[] frames) =>
    [
        .. Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(request.SecWebSocketKey!)}\r\n\r\n"),
        .. frames,
    ];
}
