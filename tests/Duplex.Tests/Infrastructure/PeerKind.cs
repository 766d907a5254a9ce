namespace Duplex.Tests.Infrastructure;

/// <summary>Which interop peer server a <see cref="PeerServer"/> runs.</summary>
public enum PeerKind
{
    /// <summary><c>tests/peers/python/server.py</c> on Python's <c>websockets</c>, run by <c>/usr/bin/python3</c>.</summary>
    Python,

    /// <summary><c>tests/peers/node/server.js</c> on Node's <c>ws</c>, run by <c>node</c>.</summary>
    Node,
}
