using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Net.WebSockets;
using Duplex.Handshake;
using Duplex.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Handshake;

/// <summary>
/// A transport against ASP.NET Core's WebSocket middleware on in-process Kestrel. Every transport
/// must pass these; one derived class per transport.
/// </summary>
public abstract class TransportKestrelTests
{
    private IWebSocketTransport? _transport;

    /// <summary>The transport under test, one per test.</summary>
    private protected IWebSocketTransport Transport => _transport ??= CreateTransport();

    /// <summary>Creates the transport under test.</summary>
    private protected abstract IWebSocketTransport CreateTransport();

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

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/chat?room=1"), options, logger, timeout.Token);

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

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(
            host.GetUri("/echo"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);

        Assert.Null(result.Response.SubProtocol);
        Assert.False(Assert.Single(host.Requests).Headers.ContainsKey("Sec-WebSocket-Protocol"));
        await AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_Http2OrLowerOnCleartext_UsesHttp11Upgrade()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionOrLower };

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(HttpVersion.Version11, result.Response.HttpVersion);
        Assert.Equal("HTTP/1.1", Assert.Single(host.Requests).Protocol);
        await AssertEchoesAsync(result.Stream, null, timeout.Token);
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
            () => Transport.ConnectAsync(host.GetUri("/reject/403"), options, logger, timeout.Token));

        Assert.Equal(WebSocketConnectError.HandshakeRejected, exception.Error);
        Assert.Equal(403, exception.StatusCode);
        Assert.Equal("test", Assert.Single(exception.Headers[KestrelWebSocketHost.RejectReasonHeader.ToUpperInvariant()]));
        Assert.StartsWith("text/plain", Assert.Single(exception.Headers["Content-Type"]), StringComparison.Ordinal);
        Assert.Equal(KestrelWebSocketHost.RejectBody, exception.Body);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 104);
    }

    [Fact]
    public async Task ConnectAsync_HttpSchemeAlias_Works_AndResponseUriIsWebSocketForm()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(
            new Uri(host.HttpBaseUri, "/echo"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);

        Assert.Equal("ws", result.Response.Uri.Scheme);
    }

    [Fact]
    public async Task ConnectAsync_WithoutRedirect_ResponseSharesTheCallersUri_UnlessItCarriesUserInfo()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        Uri plain = host.GetUri("/echo?x=1");
        var withUserInfo = new Uri($"ws://u:p@127.0.0.1:{host.Port}/echo");

        await using (WebSocketHandshakeResult result = await Transport.ConnectAsync(plain, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token))
        {
            Assert.Same(plain, result.Response.Uri);
        }

        await using (WebSocketHandshakeResult result = await Transport.ConnectAsync(withUserInfo, new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token))
        {
            Assert.Equal(string.Empty, result.Response.Uri.UserInfo);
            Assert.Equal(host.GetUri("/echo"), result.Response.Uri);
        }
    }

    [Fact]
    public async Task ConnectAsync_UserInfoInUri_IsSentAsBasicAuthorization_AndNotLogged()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        var logger = new CapturingLogger();
        var uri = new Uri($"ws://alice:wonder%3Aland@127.0.0.1:{host.Port}/echo");

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(uri, new WebSocketHandshakeOptions(), logger, timeout.Token);

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
        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(
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
            () => Transport.ConnectAsync(new Uri("ws://127.0.0.1:1/"), new WebSocketHandshakeOptions(), new CapturingLogger(), canceled.Token));

        Assert.Equal(canceled.Token, exception.CancellationToken);
    }

    [Fact]
    public async Task ConnectAsync_InvalidOption_ThrowsArgumentExceptionBeforeConnecting()
    {
        var options = new WebSocketHandshakeOptions();
        options.Headers["Sec-WebSocket-Key"] = "x";

        var exception = await Assert.ThrowsAsync<ArgumentException>(
            () => Transport.ConnectAsync(new Uri("ws://127.0.0.1:1/"), options, new CapturingLogger(), CancellationToken.None));

        Assert.Contains("Sec-WebSocket-Key", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_ContentHeader_IsRefusedAsArgumentException()
    {
        var options = new WebSocketHandshakeOptions();
        options.Headers["Content-Type"] = "text/plain";
        using var timeout = TestTimeouts.CreateSource();

        var exception = await Assert.ThrowsAsync<ArgumentException>(
            () => Transport.ConnectAsync(new Uri("ws://127.0.0.1:1/"), options, new CapturingLogger(), timeout.Token));

        Assert.Contains("Content-Type", exception.Message, StringComparison.Ordinal);
    }

    /// <summary>Accepts with the subprotocol <c>chat.v2</c> when offered, then echoes.</summary>
    private protected static async Task AcceptWithSubProtocolAsync(HttpContext context)
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
