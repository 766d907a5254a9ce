using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>
/// The interop scenarios against ASP.NET Core's WebSocket middleware on Kestrel, plus what only Kestrel offers here:
/// a rejected handshake with status, headers and body.
/// </summary>
public abstract class KestrelInteropTests(KestrelInteropFixture fixture) : InteropTests
{
    /// <summary>The running host.</summary>
    protected KestrelWebSocketHost Host => fixture.Host;

    /// <inheritdoc />
    protected override string? ExpectedSubProtocol => KestrelInteropFixture.ServerSubProtocol;

    /// <inheritdoc />
    protected override Uri EchoUri => Host.GetUri("/echo");

    /// <inheritdoc />
    protected override Uri HeadersUri => Host.GetUri("/headers");

    /// <inheritdoc />
    protected override Uri SubProtocolUri => Host.GetUri(KestrelInteropFixture.SubProtocolPath);

    /// <inheritdoc />
    protected override Uri GetServerCloseUri(int code) => Host.GetUri($"/close/{code}");

    [Fact]
    public async Task ConnectAsync_ServerRejectsWith401_ThrowsWithStatusHeaderAndBody()
    {
        using var timeout = TestTimeouts.CreateSource();
        var options = new WebSocketConnectionOptions { KeepAliveInterval = Timeout.InfiniteTimeSpan, CloseTimeout = TestTimeouts.Short };
        ConfigureHandshake(options.Handshake);
        using var connection = new WebSocketConnection(options);

        var exception = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(
            () => connection.ConnectAsync(Host.GetUri("/reject/401"), timeout.Token));

        Assert.Equal(WebSocketConnectError.HandshakeRejected, exception.Error);
        Assert.Equal(401, exception.StatusCode);
        Assert.Equal("test", Assert.Single(exception.Headers[KestrelWebSocketHost.RejectReasonHeader]));
        Assert.Equal(KestrelWebSocketHost.RejectBody, exception.Body);
        Assert.Equal(WebSocketConnectionState.Closed, connection.State);
    }
}
