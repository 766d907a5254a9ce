namespace Duplex.Benchmarks.Loopback;

/// <summary>The clients compared, in table order.</summary>
internal enum ClientKind
{
    DuplexConnection,
    DuplexClient,
    ClientWebSocket,
    WebsocketClient,
}
