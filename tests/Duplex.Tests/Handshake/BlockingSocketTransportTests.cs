using Duplex.Handshake;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Handshake;

// The transport suites again through the socket transport that uses blocking calls only (for
// WebSocketConnectionOptions.DedicatedReceiveThread): the same answers, timeouts and cancellations when
// every connect, read and write blocks a thread of the request's own.

/// <summary>The failure, redirect and proxy scenarios through the blocking socket transport.</summary>
public sealed class BlockingSocketTransportFailureTests : TransportFailureTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() =>
        new WebSocketTransportSelector(new SocketWebSocketTransport(blocking: true), new HttpWebSocketTransport());
}

/// <summary>The hostile-server scenarios through the blocking socket transport.</summary>
public sealed class BlockingSocketTransportHostileServerTests : HostileServerTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() =>
        new WebSocketTransportSelector(new SocketWebSocketTransport(blocking: true), new HttpWebSocketTransport());
}

/// <summary>The Kestrel scenarios through the blocking socket transport, and the stream it hands over.</summary>
public sealed class BlockingSocketTransportKestrelTests : TransportKestrelTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() =>
        new WebSocketTransportSelector(new SocketWebSocketTransport(blocking: true), new HttpWebSocketTransport());

    [Fact]
    public async Task ConnectAsync_HandsOverABlockingSocketStream_AndSaysSo()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/echo"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);

        Assert.True(result.Blocking);
        Assert.IsType<BlockingNetworkStream>(result.Stream);
        Assert.True(((BlockingNetworkStream)result.Stream).Socket.Blocking);
    }
}

/// <summary>The TLS scenarios through the blocking socket transport: SslStream over the blocking socket.</summary>
public sealed class BlockingSocketTransportTlsTests : TransportTlsTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() =>
        new WebSocketTransportSelector(new SocketWebSocketTransport(blocking: true), new HttpWebSocketTransport());
}
