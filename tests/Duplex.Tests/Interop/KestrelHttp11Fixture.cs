using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>A Kestrel host over cleartext HTTP/1.1 shared by the tests of a class.</summary>
public sealed class KestrelHttp11Fixture() : KestrelInteropFixture(KestrelTransport.Http11);
