using System.Text;
using Duplex.Handshake;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Handshake;

/// <summary>
/// Scripted raw TCP servers that answer the handshake wrongly, slowly or with hostile bytes. Every
/// transport must pass these; one derived class per transport.
/// </summary>
public abstract class HostileServerTests
{
    private IWebSocketTransport? _transport;

    /// <summary>The transport under test, one per test.</summary>
    private protected IWebSocketTransport Transport => _transport ??= CreateTransport();

    /// <summary>Creates the transport under test.</summary>
    private protected abstract IWebSocketTransport CreateTransport();

    [Fact]
    public async Task ConnectAsync_SendsAnRfc6455UpgradeRequest()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        var options = new WebSocketHandshakeOptions { SubProtocols = { "chat", "superchat" }, ExtensionOffers = { new TestOffer("x-test", "x-test; level=2") } };
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.GetUri("/path?q=1"), options, new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);

        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.AcceptHandshakeAsync(subProtocol: "superchat", extensions: "x-test; level=1", cancellationToken: timeout.Token);
        await using WebSocketHandshakeResult result = await connect;

        // RFC 6455 §4.1
        Assert.Equal("GET", request.Method);
        Assert.Equal("/path?q=1", request.Target);
        Assert.Equal("HTTP/1.1", request.Version);
        Assert.Equal($"127.0.0.1:{server.Port}", request.Headers["Host"]);
        Assert.Equal("websocket", request.Headers["Upgrade"]);
        Assert.Contains("upgrade", request.Headers["Connection"], StringComparison.OrdinalIgnoreCase);
        Assert.Equal(16, Convert.FromBase64String(request.SecWebSocketKey!).Length);
        Assert.Equal("13", request.Headers["Sec-WebSocket-Version"]);
        Assert.Equal("chat, superchat", request.Headers["Sec-WebSocket-Protocol"]);
        Assert.Equal("x-test; level=2", request.Headers["Sec-WebSocket-Extensions"]);
        Assert.False(request.Headers.ContainsKey("Cookie"));

        Assert.Equal("superchat", result.Response.SubProtocol);
        Assert.Equal("x-test; level=1", result.Response.Extensions);
        Assert.Equal("level=1", Assert.Single(((TestOffer)options.ExtensionOffers[0]).Accepted));
    }

    [Fact]
    public async Task ConnectAsync_WrongAccept_FailsWithInvalidHandshake()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhpcyBpcyBub3QgaXQ=\r\n\r\n");

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("Sec-WebSocket-Accept", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_MissingUpgradeHeader_FailsWithInvalidHandshake()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            key => $"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(key)}\r\n\r\n");

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("Upgrade: websocket", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_MissingConnectionUpgradeToken_FailsWithInvalidHandshake()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            key => $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(key)}\r\n\r\n");

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("Connection", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_200InsteadOf101_IsARejectedHandshake()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<h1>Hi!</h1>\n");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(200, rejected.StatusCode);
        Assert.Equal("<h1>Hi!</h1>\n", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_ExtensionNotOffered_FailsWithInvalidHandshake()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            key => $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(key)}\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n");

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("extension", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_SubProtocolSelectedWhenNoneOffered_FailsWithInvalidHandshake()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            key => $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(key)}\r\nSec-WebSocket-Protocol: chat\r\n\r\n");

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("subprotocol", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_SubProtocolNotAmongOffered_FailsWithInvalidHandshake()
    {
        var options = new WebSocketHandshakeOptions { SubProtocols = { "chat" } };

        WebSocketConnectException exception = await FailAgainstAsync(
            key => $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(key)}\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
            options);

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("'mqtt'", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_EndlessHeaders_FailAtTheLimitInsteadOfHanging()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        var options = new WebSocketHandshakeOptions { MaxResponseHeadersBytes = 4096 };
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: timeout.Token);

        using var stopWriting = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        Task flood = Task.Run(
            async () =>
            {
                await connection.WriteRawAsync("HTTP/1.1 101 Switching Protocols\r\n", stopWriting.Token);
                string line = "X-Filler: " + new string('a', 100) + "\r\n";
                for (int i = 0; i < 20_000 && !stopWriting.IsCancellationRequested; i++)
                {
                    await connection.WriteRawAsync(line, stopWriting.Token);
                }
            },
            stopWriting.Token);

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(() => connect);
        await stopWriting.CancelAsync();
        await StoppedAsync(flood);

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Contains("4096 bytes", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_ServerSendsOneBytePerSecond_OpenTimeoutFires()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        var options = new WebSocketHandshakeOptions { OpenTimeout = TimeSpan.FromSeconds(1.5) };
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        byte[] response = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(request.SecWebSocketKey!)}\r\n\r\n");
        using var stopTrickling = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        Task trickle = connection.TrickleAsync(response, TimeSpan.FromSeconds(1), stopTrickling.Token);

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(() => connect);
        await stopTrickling.CancelAsync();
        await StoppedAsync(trickle);

        Assert.Equal(WebSocketConnectError.Timeout, exception.Error);
        Assert.Contains("1.5 s", exception.Message, StringComparison.Ordinal);
        Assert.False(timeout.IsCancellationRequested);
    }

    [Fact]
    public async Task ConnectAsync_ServerNeverAnswers_OpenTimeoutFires()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        var options = new WebSocketHandshakeOptions { OpenTimeout = TimeSpan.FromMilliseconds(500) };
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token);
        await server.AcceptAsync(cancellationToken: timeout.Token);

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(() => connect);

        Assert.Equal(WebSocketConnectError.Timeout, exception.Error);
        Assert.IsAssignableFrom<OperationCanceledException>(exception.InnerException);
    }

    [Fact]
    public async Task ConnectAsync_CallerCancelsWhileWaitingForTheServer_ThrowsOperationCanceledNotWrapped()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var caller = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        await using var server = new RawWebSocketServer();
        var logger = new CapturingLogger();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions { OpenTimeout = Timeout.InfiniteTimeSpan }, logger, caller.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: timeout.Token);

        await caller.CancelAsync();
        var exception = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => connect);

        Assert.Equal(caller.Token, exception.CancellationToken);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 110);
    }

    [Fact]
    public async Task ConnectAsync_Unauthorized_ExceptionCarriesStatusReasonHeadersAndBody()
    {
        const string Body = "{\"error\":\"invalid_token\",\"detail\":\"expired\"}";
        WebSocketConnectException exception = await FailAgainstAsync(
            $"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\"\r\nContent-Type: application/json\r\nX-Request-Id: r-1\r\nContent-Length: {Body.Length}\r\n\r\n{Body}");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(WebSocketConnectError.HandshakeRejected, rejected.Error);
        Assert.Equal(401, rejected.StatusCode);
        Assert.Equal("Unauthorized", rejected.ReasonPhrase);
        Assert.Equal("Bearer realm=\"api\", error=\"invalid_token\"", Assert.Single(rejected.Headers["www-authenticate"]));
        Assert.Equal("application/json", Assert.Single(rejected.Headers["CONTENT-TYPE"]));
        Assert.Equal("r-1", Assert.Single(rejected.Headers["X-Request-Id"]));
        Assert.Equal(Body, rejected.Body);
        Assert.Null(rejected.RetryAfter);
        Assert.Contains("401", rejected.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_ServiceUnavailableWithRetryAfter_ExposesTheDelay()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nbusy");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(503, rejected.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), rejected.RetryAfter);
        Assert.Equal("busy", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_RejectionWithLargeBody_KeepsOnlyTheFirst4KiB()
    {
        string body = new string('x', 10_000);
        WebSocketConnectException exception = await FailAgainstAsync(
            $"HTTP/1.1 403 Forbidden\r\nContent-Length: {body.Length}\r\n\r\n{body}");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(WebSocketHandshakeRejectedException.MaxBodyBytes, rejected.Body.Length);
    }

    [Fact]
    public async Task ConnectAsync_RejectionWithInvalidUtf8Body_IsDecodedLossily()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.WriteRawAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\n", timeout.Token);
        await connection.WriteRawAsync(new byte[] { (byte)'o', (byte)'k', 0xFF, 0xC3, (byte)'!' }, timeout.Token);

        var rejected = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(() => connect);

        Assert.Equal("ok\uFFFD\uFFFD!", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_RejectionWhoseBodyStalls_StillReportsTheRejectionWithinTheOpenTimeout()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        // The connect, the request and the status line must all be in before the open timeout: 4 s leaves a
        // loaded machine room for that.
        var options = new WebSocketHandshakeOptions { OpenTimeout = TimeSpan.FromSeconds(4) };
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, options, new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.WriteRawAsync("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 1000\r\n\r\nslow down", timeout.Token);

        var rejected = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(() => connect);

        Assert.Equal(429, rejected.StatusCode);
        Assert.Equal("slow down", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_ServerClosesWithoutAnswering_FailsWithNetworkError()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);

        // SocketsHttpHandler retries an idempotent request whose connection closed before any
        // response byte, so every attempt is closed the same way.
        using var stopServing = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
        Task serve = Task.Run(
            async () =>
            {
                while (true)
                {
                    RawConnection connection = await server.AcceptAsync(cancellationToken: stopServing.Token);
                    await connection.ReadRequestAsync(cancellationToken: stopServing.Token);
                    await connection.DisposeAsync();
                }
            },
            stopServing.Token);

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(() => connect);
        await stopServing.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => serve);

        Assert.Equal(WebSocketConnectError.Network, exception.Error);
        Assert.Contains($"127.0.0.1:{server.Port}", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_GarbageInsteadOfHttp_FailsWithInvalidHandshake()
    {
        WebSocketConnectException exception = await FailAgainstAsync("SSH-2.0-OpenSSH_9.6\r\n\r\n");

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
    }

    [Fact]
    public async Task ConnectAsync_ExtensionOfferRefusingTheServersParameters_FailsWithItsMessage()
    {
        var options = new WebSocketHandshakeOptions { ExtensionOffers = { new TestOffer("x-test", "x-test") } };

        WebSocketConnectException exception = await FailAgainstAsync(
            key => $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(key)}\r\nSec-WebSocket-Extensions: x-test; bad\r\n\r\n",
            options);

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
        Assert.Equal("The server's x-test parameters are not acceptable.", exception.Message);
    }

    [Fact]
    public async Task ConnectAsync_RejectionWithChunkedBody_ReportsTheDecodedBody()
    {
        WebSocketConnectException exception = await FailAgainstAsync(
            "HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" +
            "6\r\naccess\r\n8;reason=\"x\"\r\n denied \r\nA\r\nby policy.\r\n0\r\nX-Trailer: t\r\n\r\n");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(403, rejected.StatusCode);
        Assert.Equal("access denied by policy.", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_RejectionWithChunkedBodyInManyWrites_ReportsTheDecodedBody()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        byte[] response = Encoding.ASCII.GetBytes("HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbusy\r\n5\r\n, try\r\n6\r\n later\r\n0\r\n\r\n");
        try
        {
            await connection.TrickleAsync(response, TimeSpan.Zero, timeout.Token);
        }
        catch (IOException)
        {
            // The client has the whole body once the last chunk's size line is in, and closes without reading the
            // trailer section's end: the last byte may find the connection gone. The body is checked below.
        }

        var rejected = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(() => connect);

        Assert.Equal("busy, try later", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_RejectionWithoutLength_ReportsTheBodyUpToTheClose()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.WriteRawAsync("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such ", timeout.Token);
        await connection.WriteRawAsync("socket", timeout.Token);
        connection.ShutdownSend();

        var rejected = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(() => connect);

        Assert.Equal(404, rejected.StatusCode);
        Assert.Equal("no such socket", rejected.Body);
    }

    [Fact]
    public async Task ConnectAsync_RejectionWithNoContent_HasAnEmptyBody()
    {
        WebSocketConnectException exception = await FailAgainstAsync("HTTP/1.1 204 No Content\r\nX-Reason: nothing\r\n\r\n");

        var rejected = Assert.IsType<WebSocketHandshakeRejectedException>(exception);
        Assert.Equal(204, rejected.StatusCode);
        Assert.Equal(string.Empty, rejected.Body);
        Assert.Equal("nothing", Assert.Single(rejected.Headers["X-Reason"]));
    }

    [Fact]
    public async Task ConnectAsync_InterimResponseBefore101_IsSkipped()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.WriteRawAsync(
            "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" +
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(request.SecWebSocketKey!)}\r\n\r\n",
            timeout.Token);

        await using WebSocketHandshakeResult result = await connect;

        Assert.Equal(101, result.Response.StatusCode);
        Assert.False(result.Response.Headers.ContainsKey("Link"));
    }

    [Fact]
    public async Task ConnectAsync_ResponseArrivingOneByteAtATime_Succeeds()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions { SubProtocols = { "chat" } }, new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        byte[] response = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {WebSocketAcceptKey.Compute(request.SecWebSocketKey!)}\r\nSec-WebSocket-Protocol: chat\r\n\r\n");
        await connection.TrickleAsync(response, TimeSpan.Zero, timeout.Token);

        await using WebSocketHandshakeResult result = await connect;

        Assert.Equal("chat", result.Response.SubProtocol);
    }

    [Fact]
    public async Task ConnectAsync_RepeatedResponseHeaders_AreKeptInOrder()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.AcceptHandshakeAsync([new("X-Trace", "one"), new("x-trace", "two")], cancellationToken: timeout.Token);

        await using WebSocketHandshakeResult result = await connect;

        Assert.Equal(["one", "two"], result.Response.Headers["X-TRACE"]);
    }

    /// <summary>Waits for a server-side writer to end, whether it finished, was stopped, or hit the closed connection.</summary>
    private protected static async Task StoppedAsync(Task writer)
    {
        try
        {
            await writer;
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or System.Net.Sockets.SocketException)
        {
            // Expected: the client gave up and closed the connection, or the test stopped the writer.
        }
    }

    private protected Task<WebSocketConnectException> FailAgainstAsync(string response, WebSocketHandshakeOptions? options = null) =>
        FailAgainstAsync(_ => response, options);

    /// <summary>Connects to a raw server that reads the request and answers with <paramref name="response"/>; expects the connect to fail.</summary>
    private protected async Task<WebSocketConnectException> FailAgainstAsync(Func<string, string> response, WebSocketHandshakeOptions? options = null)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var server = new RawWebSocketServer();
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(server.Uri, options ?? new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        RawConnection connection = await server.AcceptAsync(cancellationToken: timeout.Token);
        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.WriteRawAsync(response(request.SecWebSocketKey ?? string.Empty), timeout.Token);
        return await Assert.ThrowsAnyAsync<WebSocketConnectException>(() => connect);
    }

    private sealed class TestOffer(string name, string offer) : WebSocketExtensionOffer(name)
    {
        public List<string> Accepted { get; } = [];

        public override string OfferHeaderValue => offer;

        public override bool TryAccept(string negotiatedParameters, out string? error)
        {
            if (negotiatedParameters.Contains("bad", StringComparison.Ordinal))
            {
                error = $"The server's {Name} parameters are not acceptable.";
                return false;
            }

            Accepted.Add(negotiatedParameters);
            error = null;
            return true;
        }
    }
}
