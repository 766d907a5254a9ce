using System.Net.WebSockets;
using System.Text;

namespace Duplex.Tests.Infrastructure;

public sealed class RawWebSocketServerTests
{
    [Fact]
    public async Task RawWebSocketServer_Handshake_AcceptedByClientWebSocket()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        using var client = new ClientWebSocket();
        client.Options.SetRequestHeader("X-Test", "raw");

        var connect = client.ConnectAsync(server.GetUri("/chat?x=1"), timeout.Token);
        await using var connection = await server.AcceptWebSocketAsync(cancellationToken: timeout.Token);
        await connect;

        Assert.Equal(WebSocketState.Open, client.State);
        var request = connection.Request!;
        Assert.Equal("GET", request.Method);
        Assert.Equal("/chat?x=1", request.Target);
        Assert.Equal("HTTP/1.1", request.Version);
        Assert.Equal("raw", request.Headers["x-test"]);
        Assert.Equal("websocket", request.Headers["Upgrade"], ignoreCase: true);
        Assert.NotNull(request.SecWebSocketKey);
        Assert.StartsWith("GET /chat?x=1 HTTP/1.1\r\n", Encoding.Latin1.GetString(connection.ReceivedBytes), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RawWebSocketServer_ServerTextFrame_ReachesClient()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        using var client = new ClientWebSocket();
        var connection = await ConnectAsync(server, client, timeout.Token);

        await connection.SendTextAsync("héllo", timeout.Token);
        var message = await client.ReceiveMessageAsync(timeout.Token);

        Assert.Equal(WebSocketMessageType.Text, message.Type);
        Assert.Equal("héllo", message.Text);
    }

    [Fact]
    public async Task RawWebSocketServer_FragmentsTrickledByteByByte_ReachClientAsOneMessage()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        using var client = new ClientWebSocket();
        var connection = await ConnectAsync(server, client, timeout.Token);

        byte[] frames =
        [
            .. RawConnection.Frame(0x2, [1, 2, 3], fin: false, lengthEncoding: FrameLengthEncoding.SixteenBit),
            .. RawConnection.Frame(0x0, [4, 5], fin: true, lengthEncoding: FrameLengthEncoding.SixtyFourBit),
        ];
        var receive = client.ReceiveMessageAsync(timeout.Token);
        await connection.TrickleAsync(frames, TimeSpan.FromMilliseconds(1), timeout.Token);
        var message = await receive;

        Assert.Equal(WebSocketMessageType.Binary, message.Type);
        Assert.Equal([1, 2, 3, 4, 5], message.Payload);
    }

    [Fact]
    public async Task RawWebSocketServer_ClientFrame_IsReadMaskedAndUnmasked()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        using var client = new ClientWebSocket();
        var connection = await ConnectAsync(server, client, timeout.Token);

        var payload = Enumerable.Range(0, 300).Select(i => (byte)i).ToArray();
        await client.SendBinaryAsync(payload, timeout.Token);
        var frame = await connection.ReadFrameAsync(cancellationToken: timeout.Token);

        Assert.True(frame.Fin);
        Assert.Equal(0, frame.Rsv);
        Assert.Equal(0x2, frame.Opcode);
        Assert.True(frame.Masked);
        Assert.Equal(payload, frame.Payload);
        Assert.NotNull(frame.MaskKey);
        var remasked = frame.Payload.Select((b, i) => (byte)(b ^ frame.MaskKey![i % 4])).ToArray();
        Assert.Equal(frame.WirePayload, remasked);
    }

    [Fact]
    public async Task RawWebSocketServer_ClientClose_IsParsedAndEndOfStreamSeen()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        using var client = new ClientWebSocket();
        var connection = await ConnectAsync(server, client, timeout.Token);

        var closing = client.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation, "policy", timeout.Token);
        var close = await connection.ReadCloseFrameAsync(cancellationToken: timeout.Token);
        await closing;
        await connection.SendCloseAsync(close.Code!.Value, close.Reason, timeout.Token);
        // RFC 6455 §7.1.1: the server closes TCP first; the client waits for that before it reports the close.
        connection.ShutdownSend();
        var echoed = await client.ReceiveMessageAsync(timeout.Token);

        Assert.Equal((ushort)1008, close.Code);
        Assert.Equal("policy", close.Reason);
        Assert.Equal(WebSocketMessageType.Close, echoed.Type);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, echoed.CloseStatus);
        client.Dispose();
        Assert.True(await connection.WaitForEndOfStreamAsync(cancellationToken: timeout.Token));
    }

    [Fact]
    public async Task RawWebSocketServer_NoClientFrame_ReadFrameTimesOutAndConnectionStaysUsable()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        using var client = new ClientWebSocket();
        var connection = await ConnectAsync(server, client, timeout.Token);

        await Assert.ThrowsAsync<TimeoutException>(
            () => connection.ReadFrameAsync(TimeSpan.FromMilliseconds(100), timeout.Token));
        Assert.False(await connection.WaitForEndOfStreamAsync(TimeSpan.FromMilliseconds(100), timeout.Token));
        await client.SendTextAsync("late", timeout.Token);
        var frame = await connection.ReadFrameAsync(cancellationToken: timeout.Token);

        Assert.Equal("late", frame.Text);
    }

    [Fact]
    public async Task RawWebSocketServer_Abort_ClientSeesConnectionFailure()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        using var client = new ClientWebSocket();
        var connection = await ConnectAsync(server, client, timeout.Token);

        connection.Abort();

        await Assert.ThrowsAsync<WebSocketException>(() => client.ReceiveMessageAsync(timeout.Token));
    }

    [Fact]
    public async Task RawWebSocketServer_NoClient_AcceptTimesOut()
    {
        await using var server = new RawWebSocketServer();

        await Assert.ThrowsAsync<TimeoutException>(() => server.AcceptAsync(TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public void RawConnection_Frame_HeaderFormsAndBits()
    {
        Assert.Equal([0x81, 0x02, (byte)'h', (byte)'i'], RawConnection.Frame(0x1, "hi"u8));
        Assert.Equal([0x41, 0x7E, 0x00, 0x01, 0xFF], RawConnection.Frame(0x1, [0xFF], fin: false, rsv: 0x40, lengthEncoding: FrameLengthEncoding.SixteenBit));
        Assert.Equal([0x89, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0], RawConnection.Frame(0x9, [], lengthEncoding: FrameLengthEncoding.SixtyFourBit));
        Assert.Equal([0x82, 0x7E, 0x00, 0x7E], RawConnection.Frame(0x2, new byte[126]).AsSpan(0, 4).ToArray());
        Assert.Equal([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0], RawConnection.Frame(0x2, new byte[65536]).AsSpan(0, 10).ToArray());
        var masked = RawConnection.Frame(0x2, [0, 0], masked: true);
        Assert.Equal(0x82, masked[1]);
        Assert.Equal(masked.AsSpan(2, 2).ToArray(), masked.AsSpan(6, 2).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => RawConnection.Frame(0x1, new byte[126], lengthEncoding: FrameLengthEncoding.SevenBit));
        Assert.Equal([0x88, 0x05, 0x03, 0xE8, (byte)'b', (byte)'y', (byte)'e'], RawConnection.Frame(0x8, RawConnection.ClosePayload(1000, "bye")));
    }

    [Fact]
    public void WebSocketAcceptKey_Rfc6455Example_MatchesExpectedValue()
    {
        // RFC 6455 §1.3 worked example.
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketAcceptKey.Compute("dGhlIHNhbXBsZSBub25jZQ=="));
    }

    /// <summary>Connects <paramref name="client"/> to <paramref name="server"/> and returns the server's side, upgraded.</summary>
    private static async Task<RawConnection> ConnectAsync(RawWebSocketServer server, ClientWebSocket client, CancellationToken cancellationToken)
    {
        var connect = client.ConnectAsync(server.Uri, cancellationToken);
        var connection = await server.AcceptWebSocketAsync(cancellationToken: cancellationToken);
        await connect;
        return connection;
    }
}
