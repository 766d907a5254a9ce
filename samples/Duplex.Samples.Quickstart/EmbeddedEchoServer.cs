using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Samples.Quickstart;

/// <summary>A local WebSocket echo server on 127.0.0.1 (Kestrel), so the sample needs no network.</summary>
internal sealed class EmbeddedEchoServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EmbeddedEchoServer(WebApplication app, Uri uri)
    {
        _app = app;
        Uri = uri;
    }

    /// <summary>The server's WebSocket endpoint.</summary>
    public Uri Uri { get; }

    public static async Task<EmbeddedEchoServer> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        app.UseWebSockets();
        app.Map("/echo", EchoAsync);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var uri = new Uri(address.Replace("http://", "ws://", StringComparison.Ordinal) + "/echo");
        return new EmbeddedEchoServer(app, uri);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private static async Task EchoAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        string greeting = $"hello {context.Request.Headers["X-Client-Name"]}";
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        await socket.SendAsync(System.Text.Encoding.UTF8.GetBytes(greeting), WebSocketMessageType.Text, true, context.RequestAborted);
        byte[] buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, context.RequestAborted);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, context.RequestAborted);
                return;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                await socket.SendAsync(message.ToArray(), result.MessageType, true, context.RequestAborted);
                message.SetLength(0);
            }
        }
    }
}
