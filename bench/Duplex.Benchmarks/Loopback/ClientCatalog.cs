namespace Duplex.Benchmarks.Loopback;

/// <summary>Names and factories of the compared clients.</summary>
internal static class ClientCatalog
{
    public static IReadOnlyList<ClientKind> All { get; } = Enum.GetValues<ClientKind>();

    public static string Name(ClientKind kind) => kind switch
    {
        ClientKind.DuplexConnection => "Duplex WebSocketConnection",
        ClientKind.DuplexClient => "Duplex WebSocketClient",
        ClientKind.ClientWebSocket => "ClientWebSocket",
        ClientKind.WebsocketClient => "Websocket.Client 5.5.1",
        _ => kind.ToString(),
    };

    /// <summary>The short name used on the command line of child processes.</summary>
    public static string Id(ClientKind kind) => kind.ToString().ToLowerInvariant();

    public static ClientKind Parse(string id)
    {
        foreach (ClientKind kind in All)
        {
            if (string.Equals(Id(kind), id, StringComparison.OrdinalIgnoreCase))
            {
                return kind;
            }
        }

        throw new ArgumentException($"Unknown client '{id}'. Clients: {string.Join(", ", All.Select(Id))}.", nameof(id));
    }

    public static ILoopbackClient Create(ClientKind kind) => kind switch
    {
        ClientKind.DuplexConnection => new DuplexConnectionClient(),
        ClientKind.DuplexClient => new DuplexClientClient(),
        ClientKind.ClientWebSocket => new RawClientWebSocketClient(),
        ClientKind.WebsocketClient => new WebsocketClientClient(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}
