using Duplex.Connection;
using Duplex.Handshake;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

// The whole interop suite again with WebSocketConnectionOptions.DedicatedReceiveThread: every connection is
// connected, read and written with blocking calls on a socket that never meets the socket engine.

/// <summary>Kestrel over cleartext HTTP/1.1, each connection read on a dedicated thread.</summary>
public sealed class KestrelDedicatedThreadInteropTests(KestrelHttp11Fixture fixture)
    : KestrelInteropTests(fixture), IClassFixture<KestrelHttp11Fixture>
{
    /// <inheritdoc />
    protected override void ConfigureConnection(WebSocketConnectionOptions options) => options.DedicatedReceiveThread = true;
}

/// <summary>Kestrel over TLS (<c>wss://</c>), each connection read on a dedicated thread: TLS over the blocking socket.</summary>
public sealed class KestrelTlsDedicatedThreadInteropTests(KestrelTlsFixture fixture)
    : KestrelInteropTests(fixture), IClassFixture<KestrelTlsFixture>
{
    /// <inheritdoc />
    protected override void ConfigureHandshake(WebSocketHandshakeOptions handshake) =>
        handshake.Tls.TrustedRootCertificates = [Host.Certificate!];

    /// <inheritdoc />
    protected override void ConfigureConnection(WebSocketConnectionOptions options) => options.DedicatedReceiveThread = true;
}

/// <summary>The Python <c>websockets</c> peer, each connection read on a dedicated thread.</summary>
public sealed class PythonDedicatedThreadInteropTests(PythonPeerFixture fixture)
    : PeerInteropTests(fixture), IClassFixture<PythonPeerFixture>
{
    /// <inheritdoc />
    protected override string? ExpectedSubProtocol => null;

    /// <inheritdoc />
    protected override bool EchoesBeforeAnsweringClose => false;

    /// <inheritdoc />
    protected override void ConfigureConnection(WebSocketConnectionOptions options) => options.DedicatedReceiveThread = true;
}

/// <summary>The Node <c>ws</c> peer, each connection read on a dedicated thread.</summary>
public sealed class NodeDedicatedThreadInteropTests(NodePeerFixture fixture)
    : PeerInteropTests(fixture), IClassFixture<NodePeerFixture>
{
    /// <inheritdoc />
    protected override string? ExpectedSubProtocol => OfferedSubProtocols[0];

    /// <inheritdoc />
    protected override void ConfigureConnection(WebSocketConnectionOptions options) => options.DedicatedReceiveThread = true;
}
