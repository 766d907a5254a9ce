using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>A Kestrel host over cleartext HTTP/2 (h2c, RFC 8441) shared by the tests of a class.</summary>
public sealed class KestrelHttp2Fixture() : KestrelInteropFixture(KestrelTransport.Http2Cleartext);
