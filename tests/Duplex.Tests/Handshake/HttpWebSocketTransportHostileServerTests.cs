using Duplex.Handshake;
using Duplex.Handshake.Transports;

namespace Duplex.Tests.Handshake;

/// <summary>The hostile-server scenarios through SocketsHttpHandler.</summary>
public sealed class HttpWebSocketTransportHostileServerTests : HostileServerTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() => new HttpWebSocketTransport();
}
