using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>A Kestrel host over TLS (wss) shared by the tests of a class.</summary>
public sealed class KestrelTlsFixture() : KestrelInteropFixture(KestrelTransport.Tls);
