namespace Duplex.Benchmarks.Loopback;

/// <summary>The clients compared, in table order.</summary>
internal enum ClientKind
{
    DuplexConnection,
    DuplexClient,
    ClientWebSocket,
    WebsocketClient,

    /// <summary>Node's <c>ws</c> package (<c>bench/node-client.js</c>): a reference column, only with <c>--process-per-client</c>, never in a target.</summary>
    NodeWs,
}
