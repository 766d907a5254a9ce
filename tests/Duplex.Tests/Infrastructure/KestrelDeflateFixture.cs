using System.Net.WebSockets;
using Microsoft.AspNetCore.Http;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// A Kestrel host whose <c>/deflate</c> endpoint accepts WebSockets with
/// <see cref="WebSocketAcceptContext.DangerousEnableCompression"/> (ASP.NET Core's defaults for the
/// rest) and echoes every message, shared by a test class.
/// </summary>
public sealed class KestrelDeflateFixture : IAsyncLifetime
{
    /// <summary>The echo endpoint with compression enabled.</summary>
    public const string Path = "/deflate";

    private KestrelWebSocketHost? _host;

    /// <summary>The running host.</summary>
    public KestrelWebSocketHost Host => _host ?? throw new InvalidOperationException("The Kestrel fixture is not initialized.");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        var host = new KestrelWebSocketHost();
        host.Map(Path, EchoCompressedAsync);
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

    private static async Task EchoCompressedAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { DangerousEnableCompression = true });
        byte[] buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult result = await socket.ReceiveAsync(buffer.AsMemory(), context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    await socket.SendAsync(message.GetBuffer().AsMemory(0, (int)message.Length), result.MessageType, true, context.RequestAborted);
                    message.SetLength(0);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away; nothing to echo.
        }
    }
}
