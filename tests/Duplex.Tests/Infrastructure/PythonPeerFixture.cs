namespace Duplex.Tests.Infrastructure;

/// <summary>One Python <c>websockets</c> peer process shared by the tests of a class.</summary>
public sealed class PythonPeerFixture() : PeerServerFixture(PeerKind.Python);
