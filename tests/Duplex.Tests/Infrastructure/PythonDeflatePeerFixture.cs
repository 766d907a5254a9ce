namespace Duplex.Tests.Infrastructure;

/// <summary>One Python <c>websockets</c> peer with permessage-deflate on (its default settings), shared by a test class.</summary>
public sealed class PythonDeflatePeerFixture() : PeerServerFixture(PeerKind.Python, "--deflate");
