using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>The Node <c>ws</c> peer.</summary>
public sealed class NodeInteropTests(NodePeerFixture fixture)
    : PeerInteropTests(fixture), IClassFixture<NodePeerFixture>
{
    /// <summary>Without a <c>handleProtocols</c> callback, <c>ws</c> selects the client's most preferred subprotocol.</summary>
    protected override string? ExpectedSubProtocol => OfferedSubProtocols[0];
}
