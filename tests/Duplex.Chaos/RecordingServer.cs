using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Chaos;

/// <summary>
/// Kestrel on 127.0.0.1 with one WebSocket endpoint that records, per connection and in arrival order, the
/// sender and sequence number of every message (<c>{sender}:{seq}:{padding}</c>), echoes every message
/// (so the client's receive side is as busy as its send side) and echoes the close.
/// </summary>
internal sealed class RecordingServer : IAsyncDisposable
{
    private readonly ConcurrentQueue<ServerConnectionLog> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private int _nextId;
    private int _active;
    private long _received;

    /// <summary>The port Kestrel listens on.</summary>
    public int Port { get; private set; }

    /// <summary>Every WebSocket connection so far, in the order they were accepted.</summary>
    public IReadOnlyList<ServerConnectionLog> Connections => [.. _connections.OrderBy(c => c.Id)];

    /// <summary>How many messages have arrived so far, over every connection (each is echoed).</summary>
    public long TotalReceived => Interlocked.Read(ref _received);

    /// <summary>How many connections' handlers are still running.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

    public static async Task<RecordingServer> StartAsync(CancellationToken cancellationToken)
    {
        var server = new RecordingServer();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Duplex.Chaos", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddLogging();
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.AddServerHeader = false;
            options.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
        });
        WebApplication app = builder.Build();
        server._app = app;
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server.Port = new Uri(address).Port;
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_app is not null)
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _app.StopAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                // Connections that did not drain in time are aborted below.
            }

            await _app.DisposeAsync();
        }

        _stopping.Dispose();
    }

    /// <summary>Parses <c>{sender}:{seq}:…</c>; false for anything else.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out int sender, out long sequence)
    {
        sequence = 0;
        if (!Utf8Parser.TryParse(message, out sender, out int used) || used >= message.Length || message[used] != (byte)':')
        {
            return false;
        }

        ReadOnlySpan<byte> rest = message[(used + 1)..];
        return Utf8Parser.TryParse(rest, out sequence, out used) && used < rest.Length && rest[used] == (byte)':';
    }

    private async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        var log = new ServerConnectionLog(Interlocked.Increment(ref _nextId));
        _connections.Enqueue(log);
        Interlocked.Increment(ref _active);
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        CancellationToken cancellationToken = lifetime.Token;
        try
        {
            using WebSocket webSocket = await context.WebSockets.AcceptWebSocketAsync();
            byte[] buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            while (true)
            {
                ValueWebSocketReceiveResult result = await webSocket.ReceiveAsync(buffer.AsMemory(), cancellationToken);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    log.ClosedCleanly = true;
                    if (webSocket.State == WebSocketState.CloseReceived)
                    {
                        await webSocket.CloseOutputAsync(webSocket.CloseStatus ?? WebSocketCloseStatus.NormalClosure, null, cancellationToken);
                    }

                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                ReadOnlySpan<byte> payload = message.GetBuffer().AsSpan(0, (int)message.Length);
                log.Bytes += payload.Length;
                Interlocked.Increment(ref _received);
                if (TryParse(payload, out int sender, out long sequence))
                {
                    log.Messages.Add((sender, sequence));
                }
                else
                {
                    log.Unparsed++;
                }

                await webSocket.SendAsync(message.GetBuffer().AsMemory(0, (int)message.Length), result.MessageType, endOfMessage: true, cancellationToken);
                message.SetLength(0);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
        {
            // The link died (a fault did it) or the server is stopping: what arrived is recorded.
        }
        finally
        {
            log.Ended = true;
            Interlocked.Decrement(ref _active);
        }
    }
}
