using System.Net.WebSockets;
using Duplex.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Duplex.Tests.Interop;

/// <summary>
/// One <see cref="KestrelWebSocketHost"/> shared by the tests of a class (<c>IClassFixture&lt;T&gt;</c>), with an extra
/// endpoint at <see cref="SubProtocolPath"/> that negotiates subprotocols.
/// </summary>
public abstract class KestrelInteropFixture(KestrelTransport transport) : IAsyncLifetime
{
    /// <summary>An echo endpoint that selects <see cref="ServerSubProtocol"/> when the client offers it.</summary>
    public const string SubProtocolPath = "/subprotocol";

    /// <summary>The only subprotocol the server at <see cref="SubProtocolPath"/> speaks.</summary>
    public const string ServerSubProtocol = "duplex.v1";

    private KestrelWebSocketHost? _host;

    /// <summary>How the host listens.</summary>
    public KestrelTransport Transport { get; } = transport;

    /// <summary>The running host.</summary>
    /// <exception cref="InvalidOperationException">The fixture is not initialized.</exception>
    public KestrelWebSocketHost Host => _host ?? throw new InvalidOperationException("The Kestrel fixture is not initialized.");

    /// <inheritdoc />
    public async Task InitializeAsync() =>
        _host = await KestrelWebSocketHost.StartNewAsync(Transport, static host => host.Map(SubProtocolPath, AcceptSubProtocolAsync));

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    private static Task AcceptSubProtocolAsync(HttpContext context)
    {
        string? selected = context.WebSockets.WebSocketRequestedProtocols.Contains(ServerSubProtocol, StringComparer.Ordinal)
            ? ServerSubProtocol
            : null;
        return KestrelWebSocketHost.AcceptAndEchoAsync(context, new WebSocketAcceptContext { SubProtocol = selected });
    }
}
