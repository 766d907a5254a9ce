namespace Duplex.Tests.Infrastructure;

public sealed class PythonPeerServerTests(PythonPeerFixture fixture)
    : PeerServerContractTests(fixture), IClassFixture<PythonPeerFixture>;
