namespace Duplex.Tests.Infrastructure;

/// <summary>One Node <c>ws</c> peer process shared by the tests of a class.</summary>
public sealed class NodePeerFixture() : PeerServerFixture(PeerKind.Node);
