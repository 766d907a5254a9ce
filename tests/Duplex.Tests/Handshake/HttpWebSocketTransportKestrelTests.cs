using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Net.WebSockets;
using Duplex.Handshake;
using Duplex.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Handshake;

/// <summary>The transport against ASP.NET Core's WebSocket middleware on in-process Kestrel.</summary>
public sealed class HttpWebSocketTransportKestrelTests
{
    [Fact]
    public async Task ConnectAsync_Http11Upgrade_SendsCustomHeaders_NegotiatesSubProtocol_AndStreamCarriesFrames()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = new KestrelWebSocketHost(KestrelTransport.Http11);
        host.Map("/chat", AcceptWithSubProtocolAsync);
        await host.StartAsync(cancellationToken: timeout.Token);
        var options = new WebSocketHandshakeOptions { SubProtocols = { "chat.v1", "chat.v2" } };
        options.Headers["Authorization"] = "Bearer token-123";
        options.Headers["X-Tenant"] = "tenant-7";
        options.Headers["Origin"] = "https://app.example";
        var logger = new CapturingLogger();

        await using WebSocketHandshakeResult result = await HttpWebSocketTransport.Default.ConnectAsync(host.GetUri("/chat?room=1"), options, logger, timeout.Token);

        RecordedRequest request = Assert.Single(host.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal("HTTP/1.1", request.Protocol);
        Assert.Equal("Bearer token-123", request.Headers["Authorization"]);
        Assert.Equal("tenant-7", request.Headers["X-Tenant"]);
        Assert.Equal("https://app.example", request.Headers["Origin"]);
        Assert.Equal("13", request.Headers["Sec-WebSocket-Version"]);
        Assert.Equal("chat.v1, chat.v2", request.Headers["Sec-WebSocket-Protocol"]);
        Assert.Equal("?room=1", request.QueryString);

        Assert.Equal(101, result.Response.StatusCode);
        Assert.Equal(HttpVersion.Version11, result.Response.HttpVersion);
        Assert.Equal("chat.v2", result.Response.SubProtocol);
        Assert.Null(result.Response.Extensions);
        Assert.Equal(host.GetUri("/chat?room=1"), result.Response.Uri);
        Assert.Equal("websocket", Assert.Single(result.Response.Headers["upgrade"]), ignoreCase: true);

        await AssertEchoesAsync(result.Stream, "chat.v2", timeout.Token);

        // The bearer token reached the server but never the log.
        Assert.DoesNotContain("token-123", logger.AllText, StringComparison.Ordinal);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 101 && e.Message.Contains("Authorization: ***", StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.EventId.Id == 101 && e.Message.Contains("X-Tenant: tenant-7", StringComparison.Ordinal));
        Assert.Contains(logger.Entries, e => e.EventId.Id == 102 && e.Level == LogLevel.Debug);
    }

    [Fact]
    public async Task ConnectAsync_NoSubProtocolOffered_ServerSelectsNone()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);

        await using WebSocketHandshakeResult result = await HttpWebSocketTransport.Default.ConnectAsync(
            host.GetUri("/echo"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);

        Assert.Null(result.Response.SubProtocol);
        Assert.False(Assert.Single(host.Requests).Headers.ContainsKey("Sec-WebSocket-Protocol"));
        await AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_Http2ExtendedConnectOverH2c_StreamIsWritableAndCarriesFrames()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = new KestrelWebSocketHost(KestrelTransport.Http2Cleartext);
        host.Map("/chat", AcceptWithSubProtocolAsync);
        await host.StartAsync(cancellationToken: timeout.Token);
        var options = new WebSocketHandshakeOptions
        {
            HttpVersion = HttpVersion.Version20,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            SubProtocols = { "chat.v2" },
        };
        options.Headers["X-Tenant"] = "tenant-h2";

        await using WebSocketHandshakeResult result = await HttpWebSocketTransport.Default.ConnectAsync(host.GetUri("/chat"), options, new CapturingLogger(), timeout.Token);

        RecordedRequest request = Assert.Single(host.Requests);
        Assert.Equal("CONNECT", request.Method);
        Assert.Equal("HTTP/2", request.Protocol);
        Assert.Equal("tenant-h2", request.Headers["X-Tenant"]);
        Assert.False(request.Headers.ContainsKey("Sec-WebSocket-Key"));
        Assert.Equal(200, result.Response.StatusCode);
        Assert.Equal(HttpVersion.Version20, result.Response.HttpVersion);
        Assert.Equal("chat.v2", result.Response.SubProtocol);
        Assert.True(result.Stream.CanRead);
        Assert.True(result.Stream.CanWrite);

        await AssertEchoesAsync(result.Stream, "chat.v2", timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_Http2_SeveralWebSocketsOnOneSharedHandler_AllWork()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http2Cleartext, timeout.Token);
        var transport = new HttpWebSocketTransport();
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        WebSocketHandshakeResult[] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(
            _ => transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token)));
        try
        {
            Assert.Equal(1, transport.Invokers.SharedCount);
            await Task.WhenAll(results.Select(r => AssertEchoesAsync(r.Stream, null, timeout.Token)));
        }
        finally
        {
            foreach (WebSocketHandshakeResult result in results)
            {
                await result.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task ConnectAsync_Http2OrLowerOnCleartext_UsesHttp11Upgrade()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionOrLower };

        await using WebSocketHandshakeResult result = await HttpWebSocketTransport.Default.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(HttpVersion.Version11, result.Response.HttpVersion);
        Assert.Equal("HTTP/1.1", Assert.Single(host.Requests).Protocol);
        await AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_Http2ExactAgainstHttp11OnlyServer_FailsWithoutTimeout()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => HttpWebSocketTransport.Default.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token));

        Assert.NotEqual(WebSocketConnectError.Timeout, exception.Error);
        Assert.NotNull(exception.InnerException);
    }

    [Theory]
    [InlineData(KestrelTransport.Http11)]
    [InlineData(KestrelTransport.Http2Cleartext)]
    public async Task ConnectAsync_ServerRejects_ExceptionCarriesStatusHeadersAndBody(KestrelTransport transport)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(transport, timeout.Token);
        var options = new WebSocketHandshakeOptions();
        if (transport == KestrelTransport.Http2Cleartext)
        {
            options.HttpVersion = HttpVersion.Version20;
            options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }

        var logger = new CapturingLogger();
        var exception = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(
            () => HttpWebSocketTransport.Default.ConnectAsync(host.GetUri("/reject/403"), options, logger, timeout.Token));

        Assert.Equal(WebSocketConnectError.HandshakeRejected, exception.Error);
        Assert.Equal(403, exception.StatusCode);
        Assert.Equal("test", Assert.Single(exception.Headers[KestrelWebSocketHost.RejectReasonHeader.ToUpperInvariant()]));
        Assert.StartsWith("text/plain", Assert.Single(exception.Headers["Content-Type"]), StringComparison.Ordinal);
        Assert.Equal(KestrelWebSocketHost.RejectBody, exception.Body);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 104);
    }

    [Fact]
    public async Task ConnectAsync_PerConnectionHandler_Http11_StreamOutlivesTheDisposedHandler()
    {
        // A connect callback makes the handler per-connection; for HTTP/1.1 the transport disposes
        // it right after the upgrade, and the upgraded stream must not notice.
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        int callbackCalls = 0;
        var transport = new HttpWebSocketTransport();
        var options = new WebSocketHandshakeOptions
        {
            ConnectCallback = async (context, cancellationToken) =>
            {
                Interlocked.Increment(ref callbackCalls);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };

        await using WebSocketHandshakeResult result = await transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);
        GC.Collect();
        GC.WaitForPendingFinalizers();

        Assert.Equal(1, callbackCalls);
        Assert.Equal(0, transport.Invokers.SharedCount);
        using WebSocket webSocket = WebSocket.CreateFromStream(result.Stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        for (int i = 0; i < 3; i++)
        {
            byte[] payload = new byte[70_000];
            Random.Shared.NextBytes(payload);
            await webSocket.SendBinaryAsync(payload, timeout.Token);
            ReceivedMessage echoed = await webSocket.ReceiveMessageAsync(timeout.Token);
            Assert.Equal(payload, echoed.Payload);
        }

        await webSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_PerConnectionHandler_Http2_StreamWorksUntilResultIsDisposed()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http2Cleartext, timeout.Token);
        var transport = new HttpWebSocketTransport();
        var options = new WebSocketHandshakeOptions
        {
            HttpVersion = HttpVersion.Version20,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            ConnectCallback = (context, cancellationToken) => HttpInvokerCache.ConnectSocketAsync(context.DnsEndPoint, noDelay: true, cancellationToken),
        };

        WebSocketHandshakeResult result = await transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);
        await AssertEchoesAsync(result.Stream, null, timeout.Token);
        await result.DisposeAsync();
        await result.DisposeAsync();

        Assert.Equal(0, transport.Invokers.SharedCount);
    }

    [Fact]
    public async Task ConnectAsync_SameValueOptions_ShareOneHandler_DifferentValuesDoNot()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        var transport = new HttpWebSocketTransport();

        for (int i = 0; i < 3; i++)
        {
            var options = new WebSocketHandshakeOptions();
            options.Headers["X-Attempt"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await using WebSocketHandshakeResult result = await transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);
        }

        Assert.Equal(1, transport.Invokers.SharedCount);

        await using (await transport.ConnectAsync(host.GetUri("/echo"), new WebSocketHandshakeOptions { NoDelay = false }, new CapturingLogger(), timeout.Token))
        {
        }

        Assert.Equal(2, transport.Invokers.SharedCount);
    }

    [Fact]
    public async Task ConnectAsync_UserSuppliedHttpClient_IsUsedAndNotDisposed()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        using var client = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        client.DefaultRequestHeaders.Add("X-From-Client", "yes");
        var options = new WebSocketHandshakeOptions { HttpMessageInvoker = client };

        await using (WebSocketHandshakeResult result = await HttpWebSocketTransport.Default.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token))
        {
            await AssertEchoesAsync(result.Stream, null, timeout.Token);
        }

        await using (WebSocketHandshakeResult again = await HttpWebSocketTransport.Default.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token))
        {
            await AssertEchoesAsync(again.Stream, null, timeout.Token);
        }

        Assert.All(host.Requests, r => Assert.Equal("yes", r.Headers["X-From-Client"]));
    }

    [Fact]
    public async Task ConnectAsync_HttpSchemeAlias_Works_AndResponseUriIsWebSocketForm()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);

        await using WebSocketHandshakeResult result = await HttpWebSocketTransport.Default.ConnectAsync(
            new Uri(host.HttpBaseUri, "/echo"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);

        Assert.Equal("ws", result.Response.Uri.Scheme);
    }

    [Fact]
    public async Task ConnectAsync_UserInfoInUri_IsSentAsBasicAuthorization_AndNotLogged()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        var logger = new CapturingLogger();
        var uri = new Uri($"ws://alice:wonder%3Aland@127.0.0.1:{host.Port}/echo");

        await using WebSocketHandshakeResult result = await HttpWebSocketTransport.Default.ConnectAsync(uri, new WebSocketHandshakeOptions(), logger, timeout.Token);

        Assert.Equal("Basic " + Convert.ToBase64String("alice:wonder:land"u8.ToArray()), Assert.Single(host.Requests).Headers["Authorization"]);
        Assert.DoesNotContain("wonder", logger.AllText, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", logger.AllText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_Ipv6Loopback_Works()
    {
        if (!Socket.OSSupportsIPv6)
        {
            return;
        }

        using var timeout = TestTimeouts.CreateSource();
        using var listener = new TcpListener(IPAddress.IPv6Loopback, 0);
        try
        {
            listener.Start();
        }
        catch (SocketException)
        {
            return; // IPv6 is disabled on this machine's loopback.
        }

        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Task<WebSocketHandshakeResult> connect = HttpWebSocketTransport.Default.ConnectAsync(
            new Uri($"ws://[::1]:{port}/v6"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);
        using TcpClient server = await listener.AcceptTcpClientAsync(timeout.Token);
        RawHttpRequest request = await RawHttpRequest.ReadAsync(server.GetStream(), cancellationToken: timeout.Token);
        string accept = WebSocketAcceptKey.Compute(request.SecWebSocketKey!);
        await server.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), timeout.Token);

        await using WebSocketHandshakeResult result = await connect;

        Assert.Equal($"[::1]:{port}", request.Headers["Host"]);
        Assert.Equal("/v6", request.Target);
        Assert.Equal(new Uri($"ws://[::1]:{port}/v6"), result.Response.Uri);
    }

    [Fact]
    public async Task ConnectAsync_AlreadyCanceledToken_ThrowsOperationCanceled()
    {
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();

        var exception = await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => HttpWebSocketTransport.Default.ConnectAsync(new Uri("ws://127.0.0.1:1/"), new WebSocketHandshakeOptions(), new CapturingLogger(), canceled.Token));

        Assert.Equal(canceled.Token, exception.CancellationToken);
    }

    [Fact]
    public async Task ConnectAsync_InvalidOption_ThrowsArgumentExceptionBeforeConnecting()
    {
        var options = new WebSocketHandshakeOptions();
        options.Headers["Sec-WebSocket-Key"] = "x";

        var exception = await Assert.ThrowsAsync<ArgumentException>(
            () => HttpWebSocketTransport.Default.ConnectAsync(new Uri("ws://127.0.0.1:1/"), options, new CapturingLogger(), CancellationToken.None));

        Assert.Contains("Sec-WebSocket-Key", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_ContentHeader_IsRefusedAsArgumentException()
    {
        var options = new WebSocketHandshakeOptions();
        options.Headers["Content-Type"] = "text/plain";
        using var timeout = TestTimeouts.CreateSource();

        var exception = await Assert.ThrowsAsync<ArgumentException>(
            () => HttpWebSocketTransport.Default.ConnectAsync(new Uri("ws://127.0.0.1:1/"), options, new CapturingLogger(), timeout.Token));

        Assert.Contains("Content-Type", exception.Message, StringComparison.Ordinal);
    }

    /// <summary>Accepts with the subprotocol <c>chat.v2</c> when offered, then echoes.</summary>
    private static async Task AcceptWithSubProtocolAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        string? subProtocol = context.WebSockets.WebSocketRequestedProtocols.Contains("chat.v2") ? "chat.v2" : null;
        using WebSocket webSocket = await context.WebSockets.AcceptWebSocketAsync(subProtocol);
        try
        {
            var buffer = new byte[4096];
            while (true)
            {
                ValueWebSocketReceiveResult received = await webSocket.ReceiveAsync(buffer.AsMemory(), context.RequestAborted);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    await webSocket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                    return;
                }

                await webSocket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away.
        }
    }

    /// <summary>Proves the stream is a working WebSocket transport: .NET's own engine echoes a message over it and closes.</summary>
    internal static async Task AssertEchoesAsync(Stream stream, string? subProtocol, CancellationToken cancellationToken)
    {
        using WebSocket webSocket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, SubProtocol = subProtocol, KeepAliveInterval = TimeSpan.Zero });
        await webSocket.SendTextAsync("hello over the handshake stream ✓", cancellationToken);
        ReceivedMessage echoed = await webSocket.ReceiveMessageAsync(cancellationToken);
        Assert.Equal(WebSocketMessageType.Text, echoed.Type);
        Assert.Equal("hello over the handshake stream ✓", echoed.Text);
        await webSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cancellationToken);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, webSocket.CloseStatus);
    }
}
