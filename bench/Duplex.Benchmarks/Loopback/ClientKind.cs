namespace Duplex.Benchmarks.Loopback;

/// <summary>The clients compared, in table order.</summary>
internal enum ClientKind
{
    DuplexConnection,
    DuplexClient,

    /// <summary><see cref="DuplexConnection"/> with <c>DedicatedReceiveThread</c>: not in S5 (a thread per connection is not for thousands).</summary>
    DuplexConnectionThread,

    /// <summary><see cref="DuplexClient"/> with <c>DedicatedReceiveThread</c>: not in S5.</summary>
    DuplexClientThread,
    ClientWebSocket,
    WebsocketClient,

    /// <summary>Node's <c>ws</c> package (<c>bench/node-client.js</c>): a reference column, only with <c>--process-per-client</c>, never in a target.</summary>
    NodeWs,
}
