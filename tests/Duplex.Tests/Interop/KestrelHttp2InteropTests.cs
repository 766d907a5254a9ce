using System.Net;
using System.Net.Http;
using Duplex.Handshake;

namespace Duplex.Tests.Interop;

/// <summary>Kestrel over cleartext HTTP/2 with prior knowledge: WebSockets by extended CONNECT (RFC 8441).</summary>
public sealed class KestrelHttp2InteropTests(KestrelHttp2Fixture fixture)
    : KestrelInteropTests(fixture), IClassFixture<KestrelHttp2Fixture>
{
    /// <inheritdoc />
    protected override Version ExpectedHttpVersion => HttpVersion.Version20;

    /// <inheritdoc />
    protected override void ConfigureHandshake(WebSocketHandshakeOptions handshake)
    {
        handshake.HttpVersion = HttpVersion.Version20;
        handshake.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
    }
}
