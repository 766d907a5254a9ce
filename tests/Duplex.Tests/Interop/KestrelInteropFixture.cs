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
    public async Task InitializeAsync()
    {
        var host = new KestrelWebSocketHost(Transport);
        host.Map(SubProtocolPath, AcceptSubProtocolAsync);
        try
        {
            await host.StartAsync();
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }

        _host = host;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    private static async Task AcceptSubProtocolAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        string? selected = context.WebSockets.WebSocketRequestedProtocols.Contains(ServerSubProtocol, StringComparer.Ordinal)
            ? ServerSubProtocol
            : null;
        CancellationToken cancellationToken = context.RequestAborted;
        try
        {
            using WebSocket webSocket = await context.WebSockets.AcceptWebSocketAsync(selected);
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            while (true)
            {
                WebSocketReceiveResult result = await webSocket.ReceiveAsync(buffer, cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await webSocket.CloseOutputAsync(
                        result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, cancellationToken);
                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    await webSocket.SendAsync(
                        message.GetBuffer().AsMemory(0, (int)message.Length), result.MessageType, endOfMessage: true, cancellationToken);
                    message.SetLength(0);
                }
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away or the host is stopping.
        }
    }
}
