using System.Net.Sockets;
using Duplex.Handshake;
using Duplex.Handshake.Rules;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Handshake;

/// <summary>
/// The Kestrel scenarios through the socket transport, plus what only it does: the stream is the
/// socket's own, and the request line and <c>Host</c> header are written here.
/// </summary>
public sealed class SocketWebSocketTransportKestrelTests : TransportKestrelTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() => new WebSocketTransportSelector(new SocketWebSocketTransport(), new HttpWebSocketTransport());

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ConnectAsync_StreamIsTheSocketsOwn_WithNoDelayAsConfigured(bool noDelay)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);

        WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), new WebSocketHandshakeOptions { NoDelay = noDelay }, new CapturingLogger(), timeout.Token);
        NetworkStream stream = Assert.IsType<NetworkStream>(result.Stream);
        Socket socket = stream.Socket;

        Assert.Equal(noDelay, socket.NoDelay);
        await AssertEchoesAsync(result.Stream, null, timeout.Token);
        await result.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => socket.Available);
    }

    [Fact]
    public async Task ConnectAsync_EscapedPathAndQuery_ReachTheServerAsSent()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(
            host.GetUri("/room%20one/ä?name=J%C3%BCrg&x=a+b"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);

        RecordedRequest request = Assert.Single(host.Requests);
        Assert.Equal("/room one/ä", request.Path);
        Assert.Equal("?name=J%C3%BCrg&x=a+b", request.QueryString);
    }

    [Theory]
    [InlineData("ws://example.com/", null, "example.com")]
    [InlineData("ws://example.com:80/", null, "example.com")]
    [InlineData("wss://example.com:443/x", null, "example.com")]
    [InlineData("wss://example.com:8443/x", null, "example.com:8443")]
    [InlineData("http://Example.COM:81/", null, "example.com:81")]
    [InlineData("ws://127.0.0.1:9000/", null, "127.0.0.1:9000")]
    [InlineData("ws://[::1]:9000/", null, "[::1]:9000")]
    [InlineData("ws://[::1]/", null, "[::1]")]
    [InlineData("ws://[fe80::1%25eth0]:81/", null, "[fe80::1]:81")]
    [InlineData("ws://bücher.example/", null, "xn--bcher-kva.example")]
    [InlineData("wss://127.0.0.1:8443/", "localhost", "localhost:8443")]
    [InlineData("wss://127.0.0.1/", "api.example", "api.example")]
    public void GetHostHeader_HostAndNonDefaultPort(string uri, string? targetHost, string expected)
    {
        Assert.Equal(expected, Http11UpgradeRequest.GetHostHeader(new Uri(uri), targetHost));
    }
}
