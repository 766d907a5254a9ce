using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Duplex.Benchmarks.Compression;

/// <summary>
/// The <c>compression-server</c> child: Kestrel on 127.0.0.1 whose <c>/echo</c> accepts with
/// <c>DangerousEnableCompression</c> (so it compresses exactly when the client offered
/// permessage-deflate) and echoes every message. Prints <c>listening ws://…</c>; stops when standard
/// input closes.
/// </summary>
internal static class CompressionServer
{
    public static async Task<int> RunChildAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1));
        await using WebApplication app = builder.Build();
        app.UseWebSockets();
        app.Map("/echo", EchoAsync);
        await app.StartAsync().ConfigureAwait(false);
        string address = app.Urls.First().Replace("http://", "ws://", StringComparison.Ordinal);
        Console.Out.WriteLine("listening " + address);
        Console.Out.Flush();
        await Console.In.ReadToEndAsync().ConfigureAwait(false);
        await app.StopAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task EchoAsync(HttpContext context)
    {
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { DangerousEnableCompression = true }).ConfigureAwait(false);
        byte[] buffer = new byte[1024 * 1024];
        try
        {
            while (true)
            {
                int count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(count), context.RequestAborted).ConfigureAwait(false);
                    count += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).ConfigureAwait(false);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, count), result.MessageType, true, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The client left.
        }
    }
}
