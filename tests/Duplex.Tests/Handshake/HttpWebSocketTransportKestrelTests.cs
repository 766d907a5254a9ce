using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Net.WebSockets;
using Duplex.Handshake;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Handshake;

/// <summary>
/// The Kestrel scenarios through SocketsHttpHandler, plus what only it does: HTTP/2 extended
/// CONNECT, shared and per-connection handlers, the caller's own <see cref="HttpClient"/>.
/// </summary>
public sealed class HttpWebSocketTransportKestrelTests : TransportKestrelTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() => new HttpWebSocketTransport();

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

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/chat"), options, new CapturingLogger(), timeout.Token);

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
    public async Task ConnectAsync_Http2ExactAgainstHttp11OnlyServer_FailsWithoutTimeout()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        var options = new WebSocketHandshakeOptions { HttpVersion = HttpVersion.Version20, HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact };

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token));

        Assert.NotEqual(WebSocketConnectError.Timeout, exception.Error);
        Assert.NotNull(exception.InnerException);
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

        await using (WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token))
        {
            await AssertEchoesAsync(result.Stream, null, timeout.Token);
        }

        await using (WebSocketHandshakeResult again = await Transport.ConnectAsync(host.GetUri("/echo"), options, new CapturingLogger(), timeout.Token))
        {
            await AssertEchoesAsync(again.Stream, null, timeout.Token);
        }

        Assert.All(host.Requests, r => Assert.Equal("yes", r.Headers["X-From-Client"]));
    }
}
