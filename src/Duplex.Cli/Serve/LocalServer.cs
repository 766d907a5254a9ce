using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Duplex.Cli.Output;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Cli.Serve;

/// <summary>
/// The local test server of <c>duplex serve</c> and <c>duplex demo</c>: Kestrel on 127.0.0.1 with
/// ASP.NET Core's WebSocket middleware. Every path echoes (same message type, close code echoed)
/// unless <see cref="LocalServerOptions"/> says otherwise; <c>/headers</c> always first replies with
/// the handshake headers it received, and <c>/reject/{status}</c> always refuses the upgrade with
/// that status.
/// </summary>
/// <remarks>
/// Members are safe to use from any thread once started. <see cref="HoldUpgrades"/>,
/// <see cref="ReleaseUpgrades"/> and <see cref="DropAll"/> let a caller in the same process stage a
/// lost connection and a reconnect exactly.
/// </remarks>
internal sealed class LocalServer : IAsyncDisposable
{
    /// <summary>The largest message the server accepts.</summary>
    public const int MaxMessageBytes = 16 * 1024 * 1024;

    private readonly WebApplication _app;
    private readonly LocalServerOptions _options;
    private readonly Action<string>? _log;
    private readonly ConcurrentDictionary<int, HttpContext> _live = new();
    private readonly ConcurrentQueue<RecordedHandshake> _handshakes = new();
    private readonly object _gateLock = new();
    private TaskCompletionSource _gate = CompletedGate();
    private int _connections;

    private LocalServer(WebApplication app, LocalServerOptions options, Action<string>? log, X509Certificate2? certificate)
    {
        _app = app;
        _options = options;
        _log = log;
        Certificate = certificate;
    }

    /// <summary>Raised when a connection ends, on the thread that saw it end.</summary>
    public event Action<RecordedClose>? Closed;

    /// <summary>Raised when a connection opens, before the server sends anything on it.</summary>
    public event Action<RecordedHandshake>? Opened;

    /// <summary>The base URI, <c>ws://127.0.0.1:port</c> (or <c>wss://localhost:port</c> with TLS, the name the certificate holds).</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The port it listens on.</summary>
    public int Port { get; private set; }

    /// <summary>The generated self-signed certificate, with TLS; null without.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>Every accepted handshake, oldest first.</summary>
    public IReadOnlyCollection<RecordedHandshake> Handshakes => _handshakes;

    /// <summary>How many connections are open now.</summary>
    public int LiveConnections => _live.Count;

    /// <summary>The URI of a path on this server.</summary>
    public Uri UriFor(string path) => new(Url, path);

    /// <summary>Starts listening; the returned server is ready for connections.</summary>
    /// <param name="options">How to behave.</param>
    /// <param name="log">Receives one line per event (connections, messages pushed, drops, closes), secrets masked; null for silence.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<LocalServer> StartAsync(LocalServerOptions options, Action<string>? log, CancellationToken cancellationToken)
    {
        X509Certificate2? certificate = options.Tls ? SelfSignedCertificate.Create() : null;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, options.Port, listen =>
            {
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });
        WebApplication app = builder.Build();
        var server = new LocalServer(app, options, log, certificate);
        app.UseWebSockets();
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);

        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Port = new Uri(address).Port;
        server.Url = new Uri(certificate is null ? $"ws://127.0.0.1:{server.Port}/" : $"wss://localhost:{server.Port}/");
        return server;
    }

    /// <summary>Makes new upgrade requests wait (the client sees a handshake in progress) until <see cref="ReleaseUpgrades"/>.</summary>
    public void HoldUpgrades()
    {
        lock (_gateLock)
        {
            if (_gate.Task.IsCompleted)
            {
                _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    /// <summary>Lets held and new upgrade requests through.</summary>
    public void ReleaseUpgrades()
    {
        lock (_gateLock)
        {
            _gate.TrySetResult();
        }
    }

    /// <summary>Drops every open connection at once, without a closing handshake, as a crashing server or a broken link would.</summary>
    /// <returns>How many were dropped.</returns>
    public int DropAll()
    {
        int dropped = 0;
        foreach (KeyValuePair<int, HttpContext> live in _live)
        {
            if (_live.TryRemove(live.Key, out HttpContext? context))
            {
                Log($"connection {live.Key} dropped");
                context.Abort();
                dropped++;
            }
        }

        return dropped;
    }

    public async ValueTask DisposeAsync()
    {
        ReleaseUpgrades();
        foreach (HttpContext context in _live.Values)
        {
            context.Abort();
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopping took too long; disposing ends what is left.
        }

        await _app.DisposeAsync();
        Certificate?.Dispose();
    }

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }

    private async Task HandleAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? "/";
        int? reject = _options.RejectStatus;
        if (path.StartsWith("/reject/", StringComparison.OrdinalIgnoreCase) &&
            int.TryParse(path.AsSpan("/reject/".Length), NumberStyles.None, CultureInfo.InvariantCulture, out int status) && status is >= 200 and <= 599)
        {
            reject = status;
        }

        if (reject is { } rejectStatus)
        {
            await RejectAsync(context, path, rejectStatus);
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("duplex serve: this is a WebSocket endpoint (ws:// or wss://)\n", context.RequestAborted);
            return;
        }

        Task gate;
        lock (_gateLock)
        {
            gate = _gate.Task;
        }

        await gate.WaitAsync(context.RequestAborted);

        int id = Interlocked.Increment(ref _connections);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues> header in context.Request.Headers)
        {
            headers[header.Key] = header.Value.ToString();
        }

        string? subProtocol = context.WebSockets.WebSocketRequestedProtocols.FirstOrDefault();
        var handshake = new RecordedHandshake(id, path, headers, subProtocol);
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync(subProtocol);
        _handshakes.Enqueue(handshake);
        _live[id] = context;
        Log($"connection {id} opened: {path}{context.Request.QueryString}{(subProtocol is null ? "" : $", subprotocol {subProtocol}")}, {headers.Count} headers ({string.Join(", ", headers.Select(h => $"{h.Key}: {SecretRedaction.HeaderValue(h.Key, h.Value)}"))})");
        Opened?.Invoke(handshake);

        RecordedClose? close = null;
        using var drop = new CancellationTokenSource();
        using CancellationTokenRegistration dropping = drop.Token.Register(() =>
        {
            if (_live.TryRemove(id, out _))
            {
                Log($"connection {id} dropped after {Input.Duration.Format(_options.DropEvery)} (--drop-every)");
                context.Abort();
            }
        });
        if (_options.DropEvery != Timeout.InfiniteTimeSpan)
        {
            drop.CancelAfter(_options.DropEvery);
        }

        try
        {
            if (_options.ReplyHeaders || path.Equals("/headers", StringComparison.OrdinalIgnoreCase))
            {
                await SendTextAsync(socket, HeadersMessage(path, headers), context.RequestAborted);
            }

            for (int sequence = 1; sequence <= _options.Push; sequence++)
            {
                await SendTextAsync(socket, JsonSerializer.Serialize(new PushMessage("push", sequence, _options.Push), ServeJson.Default.PushMessage), context.RequestAborted);
            }

            if (_options.Push > 0)
            {
                Log($"connection {id}: pushed {_options.Push} messages");
            }

            close = await EchoAsync(id, socket, context.RequestAborted);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ConnectionAbortedException or IOException)
        {
            // The connection was lost or dropped.
        }
        finally
        {
            bool wasLive = _live.TryRemove(id, out _);
            close ??= new RecordedClose(id, null, null, Dropped: !wasLive);
            if (close.Status is { } code)
            {
                Log($"connection {id} closed by the client: {(int)code}{(string.IsNullOrEmpty(close.Description) ? "" : " " + close.Description)}");
            }
            else if (wasLive)
            {
                Log($"connection {id} lost");
            }

            Closed?.Invoke(close);
        }
    }

    private async Task<RecordedClose> EchoAsync(int id, WebSocket socket, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                var close = new RecordedClose(id, result.CloseStatus, result.CloseStatusDescription, Dropped: false);
                _live.TryRemove(id, out _);
                await socket.CloseAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, cancellationToken);
                return close;
            }

            if (message.Length + result.Count > MaxMessageBytes)
            {
                await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, "message too big", cancellationToken);
                return new RecordedClose(id, WebSocketCloseStatus.MessageTooBig, "message too big", Dropped: false);
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                await socket.SendAsync(message.GetBuffer().AsMemory(0, (int)message.Length), result.MessageType, endOfMessage: true, cancellationToken);
                message.SetLength(0);
            }
        }
    }

    private async Task RejectAsync(HttpContext context, string path, int status)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers["X-Duplex-Reject"] = status.ToString(CultureInfo.InvariantCulture);
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer realm=\"duplex\"";
        }
        else if (status is StatusCodes.Status429TooManyRequests or StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        Log($"upgrade refused with {status}: {path}");
        if (status is not (StatusCodes.Status204NoContent or StatusCodes.Status304NotModified))
        {
            await context.Response.WriteAsync($"rejected by duplex serve with status {status}\n", context.RequestAborted);
        }
    }

    private static string HeadersMessage(string path, Dictionary<string, string> headers)
    {
        var shown = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (KeyValuePair<string, string> header in headers)
        {
            shown[header.Key] = SecretRedaction.HeaderValue(header.Key, header.Value);
        }

        return JsonSerializer.Serialize(new HeadersMessage("headers", path, shown), ServeJson.Default.HeadersMessage);
    }

    private static Task SendTextAsync(WebSocket socket, string text, CancellationToken cancellationToken) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);

    private void Log(string line) => _log?.Invoke(line);
}
