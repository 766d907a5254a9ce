using System.Net;
using System.Net.Sockets;

namespace Duplex.Tests.Infrastructure;

/// <summary>Two ends of one real TCP connection on 127.0.0.1, with no HTTP in between.</summary>
public sealed class LoopbackStreams : IAsyncDisposable
{
    private LoopbackStreams(NetworkStream client, NetworkStream server)
    {
        Client = client;
        Server = server;
    }

    /// <summary>The client's end.</summary>
    public NetworkStream Client { get; }

    /// <summary>The server's end.</summary>
    public NetworkStream Server { get; }

    /// <summary>Connects a socket to a listener on an OS-chosen port.</summary>
    public static async Task<LoopbackStreams> CreateAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        Task connect = client.ConnectAsync(listener.LocalEndPoint!, timeout.Token).AsTask();
        Socket server = await listener.AcceptAsync(timeout.Token);
        await connect;
        server.NoDelay = true;
        return new LoopbackStreams(new NetworkStream(client, ownsSocket: true), new NetworkStream(server, ownsSocket: true));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
