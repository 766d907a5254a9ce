namespace Duplex.Tests.Infrastructure;

/// <summary>One Node <c>ws</c> peer with permessage-deflate on (its defaults), shared by a test class.</summary>
public sealed class NodeDeflatePeerFixture() : PeerServerFixture(PeerKind.Node, "--deflate");
