namespace Duplex.Tests.Infrastructure;

public sealed class NodePeerServerTests(NodePeerFixture fixture)
    : PeerServerContractTests(fixture), IClassFixture<NodePeerFixture>;
