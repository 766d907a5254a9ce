namespace Duplex.Tests.Interop;

/// <summary>Kestrel over cleartext HTTP/1.1: the RFC 6455 Upgrade handshake.</summary>
public sealed class KestrelHttp11InteropTests(KestrelHttp11Fixture fixture)
    : KestrelInteropTests(fixture), IClassFixture<KestrelHttp11Fixture>;
