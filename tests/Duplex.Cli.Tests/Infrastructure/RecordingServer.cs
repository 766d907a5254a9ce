using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Cli.Tests.Infrastructure;

/// <summary>
/// An in-process Kestrel echo server on 127.0.0.1 (a free port) that records what the tool sends:
/// the handshake headers, every message, and the close code and reason it received.
/// </summary>
public sealed class RecordingServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Channel<ReceivedMessage> _messages = Channel.CreateUnbounded<ReceivedMessage>();
    private readonly ConcurrentQueue<IReadOnlyDictionary<string, string>> _handshakes = new();
    private readonly TaskCompletionSource<(WebSocketCloseStatus? Status, string? Description)> _close = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private RecordingServer(WebApplication app) => _app = app;

    /// <summary>The echo endpoint, <c>ws://127.0.0.1:port/echo</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>The headers of every accepted handshake.</summary>
    public IReadOnlyCollection<IReadOnlyDictionary<string, string>> Handshakes => _handshakes;

    public static async Task<RecordingServer> StartAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        WebApplication app = builder.Build();
        var server = new RecordingServer(app);
        app.UseWebSockets();
        app.Run(server.HandleAsync);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = $"ws://127.0.0.1:{new Uri(address).Port}/echo";
        return server;
    }

    /// <summary>The next message the server received.</summary>
    public async Task<ReceivedMessage> NextMessageAsync()
    {
        using var timeout = new CancellationTokenSource(CliProcess.Timeout);
        return await _messages.Reader.ReadAsync(timeout.Token);
    }

    /// <summary>The close code and reason of the first connection the client closed.</summary>
    public Task<(WebSocketCloseStatus? Status, string? Description)> CloseAsync() => _close.Task.WaitAsync(CliProcess.Timeout);

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _app.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // Disposing ends what is left.
        }

        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        _handshakes.Enqueue(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase));
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync(context.WebSockets.WebSocketRequestedProtocols.FirstOrDefault());
        byte[] buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _close.TrySetResult((result.CloseStatus, result.CloseStatusDescription));
                    await socket.CloseAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, context.RequestAborted);
                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    byte[] data = message.ToArray();
                    message.SetLength(0);
                    _messages.Writer.TryWrite(new ReceivedMessage(result.MessageType, data));
                    await socket.SendAsync(data, result.MessageType, endOfMessage: true, context.RequestAborted);
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away.
        }
    }
}
