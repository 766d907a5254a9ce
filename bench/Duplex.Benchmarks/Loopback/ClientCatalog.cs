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

    /// <summary>A client of <paramref name="kind"/>; over TLS it trusts <paramref name="serverCertificate"/> (and nothing else).</summary>
    public static ILoopbackClient Create(ClientKind kind, X509Certificate2? serverCertificate = null) => kind switch
    {
        ClientKind.DuplexConnection => new DuplexConnectionClient(serverCertificate),
        ClientKind.DuplexClient => new DuplexClientClient(serverCertificate),
        ClientKind.ClientWebSocket => new RawClientWebSocketClient(serverCertificate),
        ClientKind.WebsocketClient => new WebsocketClientClient(serverCertificate),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>How to start a client process of <paramref name="kind"/> (<c>--process-per-client</c>): this program's <c>client</c> command.</summary>
    public static ProcessStartInfo ProcessStartInfo(ClientKind kind, IReadOnlyList<string> arguments)
    {
        _ = kind;
        return ServerProcess.SelfStartInfo([.. arguments]);
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
