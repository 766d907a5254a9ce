using System.Diagnostics;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Duplex.Benchmarks.Server;
using Duplex.Handshake;

namespace Duplex.Benchmarks.Loopback;

/// <summary>Names and factories of the compared clients.</summary>
internal static class ClientCatalog
{
    public static IReadOnlyList<ClientKind> All { get; } = Enum.GetValues<ClientKind>();

    /// <summary>The .NET clients: the ones that can run in the benchmark's own process and in the S5 probe.</summary>
    public static IReadOnlyList<ClientKind> DotNet { get; } = [.. All.Where(k => k != ClientKind.NodeWs)];

    /// <summary>The clients S5 opens thousands of idle connections with: not those with a thread per connection.</summary>
    public static IReadOnlyList<ClientKind> Idle { get; } = [.. DotNet.Where(k => k is not (ClientKind.DuplexConnectionThread or ClientKind.DuplexClientThread))];

    /// <summary>
    /// <c>bench/node-client.js</c>, when the repository's copy of it, the Node <c>ws</c> package it
    /// loads (<c>tests/peers/node/node_modules/ws</c>) and a <c>node</c> on the PATH are all there; null otherwise.
    /// </summary>
    public static string? NodeClientScript { get; } = FindNodeClientScript();

    public static string Name(ClientKind kind) => kind switch
    {
        ClientKind.DuplexConnection => "Duplex WebSocketConnection",
        ClientKind.DuplexClient => "Duplex WebSocketClient",
        ClientKind.DuplexConnectionThread => "Duplex WebSocketConnection, dedicated thread",
        ClientKind.DuplexClientThread => "Duplex WebSocketClient, dedicated thread",
        ClientKind.ClientWebSocket => "ClientWebSocket",
        ClientKind.WebsocketClient => "Websocket.Client 5.5.1",
        ClientKind.NodeWs => "Node ws 8.x (reference)",
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

    /// <summary>A client of <paramref name="kind"/>; over TLS it trusts <paramref name="serverCertificate"/> (and nothing else).</summary>
    public static ILoopbackClient Create(ClientKind kind, X509Certificate2? serverCertificate = null) => kind switch
    {
        ClientKind.DuplexConnection => new DuplexConnectionClient(serverCertificate, dedicatedThread: false),
        ClientKind.DuplexClient => new DuplexClientClient(serverCertificate, dedicatedThread: false),
        ClientKind.DuplexConnectionThread => new DuplexConnectionClient(serverCertificate, dedicatedThread: true),
        ClientKind.DuplexClientThread => new DuplexClientClient(serverCertificate, dedicatedThread: true),
        ClientKind.ClientWebSocket => new RawClientWebSocketClient(serverCertificate),
        ClientKind.WebsocketClient => new WebsocketClientClient(serverCertificate),
        _ => throw new ArgumentException($"{Name(kind)} runs only in a process of its own (--process-per-client).", nameof(kind)),
    };

    /// <summary>
    /// How to start a client process of <paramref name="kind"/> (<c>--process-per-client</c>): this
    /// program's <c>client</c> command, or for Node <c>node bench/node-client.js</c> with the same
    /// arguments (it reads the named options it needs and ignores the rest).
    /// </summary>
    public static ProcessStartInfo ProcessStartInfo(ClientKind kind, IReadOnlyList<string> arguments)
    {
        if (kind != ClientKind.NodeWs)
        {
            return ServerProcess.SelfStartInfo([.. arguments]);
        }

        var start = new ProcessStartInfo("node") { UseShellExecute = false };
        start.ArgumentList.Add(NodeClientScript ?? throw new InvalidOperationException("bench/node-client.js, the Node ws package or node itself was not found."));
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static string? FindNodeClientScript()
    {
        bool nodeOnPath = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, "node")));
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); nodeOnPath && directory is not null; directory = directory.Parent)
        {
            string script = Path.Combine(directory.FullName, "bench", "node-client.js");
            if (File.Exists(script) && Directory.Exists(Path.Combine(directory.FullName, "tests", "peers", "node", "node_modules", "ws")))
            {
                return script;
            }
        }

        return null;
    }

    /// <summary>Duplex's options for trusting the benchmark server's self-signed certificate.</summary>
    public static WebSocketHandshakeOptions Handshake(X509Certificate2? serverCertificate)
    {
        var handshake = new WebSocketHandshakeOptions();
        if (serverCertificate is not null)
        {
            handshake.Tls.TrustedRootCertificates = [serverCertificate];
        }

        return handshake;
    }

    /// <summary>The same for a <see cref="ClientWebSocket"/>: accept exactly that certificate.</summary>
    public static ClientWebSocket CreateClientWebSocket(X509Certificate2? serverCertificate)
    {
        var socket = new ClientWebSocket();
        if (serverCertificate is not null)
        {
            socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                certificate is not null && certificate.GetCertHashString() == serverCertificate.GetCertHashString();
        }

        return socket;
    }
}
