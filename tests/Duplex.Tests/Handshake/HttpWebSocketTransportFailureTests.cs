using System.Net.Http;
using Duplex.Handshake;
using Duplex.Handshake.Transports;

namespace Duplex.Tests.Handshake;

/// <summary>The failure, redirect and proxy scenarios through SocketsHttpHandler, plus the classification of its errors.</summary>
public sealed class HttpWebSocketTransportFailureTests : TransportFailureTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() => new HttpWebSocketTransport();

    [Fact]
    public void Classify_ProxyTunnelFailure_IsAProxyError()
    {
        var failure = new HttpRequestException(HttpRequestError.ProxyTunnelError, "tunnel refused");

        WebSocketConnectException exception = OpeningHandshake.Classify(failure, new Uri("http://example.com:8080/"), new WebSocketHandshakeOptions());

        Assert.Equal(WebSocketConnectError.Proxy, exception.Error);
        Assert.Contains("example.com:8080", exception.Message, StringComparison.Ordinal);
        Assert.Same(failure, exception.InnerException);
    }
}
