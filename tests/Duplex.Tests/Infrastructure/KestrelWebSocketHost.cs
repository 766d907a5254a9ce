using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// An in-process Kestrel server with ASP.NET Core's WebSocket middleware on 127.0.0.1 and an OS-chosen port: the
/// reference server for interop tests over HTTP/1.1, HTTP/2 (RFC 8441) and TLS.
/// </summary>
/// <remarks>
/// <para>Built-in endpoints (WebSocket requests):</para>
/// <list type="bullet">
/// <item><c>/echo</c> — echoes every message with the same type (up to <see cref="MaxMessageBytes"/>) and echoes the
/// close code and reason. .NET's engine reports a Close without a payload as 1000, so that one is echoed as 1000.</item>
/// <item><c>/headers</c> — first sends a JSON text message of the request headers (lower-cased name → value), then echoes.</item>
/// <item><c>/close/{code}</c> — closes with that code and reason <c>bye</c> right after accepting.</item>
/// <item><c>/reject/{status}</c> — does not upgrade: answers that status, header <c>X-Reject-Reason: test</c> and body <c>rejected by test server</c>.</item>
/// <item>any other path — echo for WebSocket requests, 404 otherwise.</item>
/// </list>
/// <para>
/// Add endpoints with <see cref="Map"/> before <see cref="StartAsync"/>; they take precedence over the built-in ones.
/// Every request's headers are recorded in <see cref="Requests"/> before any endpoint runs. Logging is off.
/// Members are safe to read from any thread once started; <see cref="Map"/> and <see cref="StartAsync"/> are not
/// meant to race each other.
/// </para>
/// </remarks>
public sealed class KestrelWebSocketHost : IAsyncDisposable
{
    /// <summary>The largest message the echo endpoints accept; a larger one is closed with 1009.</summary>
    public const int MaxMessageBytes = 32 * 1024 * 1024;

    /// <summary>The header a rejected handshake carries.</summary>
    public const string RejectReasonHeader = "X-Reject-Reason";

    /// <summary>The body a rejected handshake carries.</summary>
    public const string RejectBody = "rejected by test server";

    private readonly Dictionary<string, Func<HttpContext, Task>> _endpoints = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly CancellationTokenSource _stopping = new();
    private WebApplication? _app;
    private Uri? _baseUri;
    private int _disposed;

    /// <summary>Creates a host that is not started yet; call <see cref="Map"/> as needed, then <see cref="StartAsync"/>.</summary>
    public KestrelWebSocketHost(KestrelTransport transport = KestrelTransport.Http11)
    {
        Transport = transport;
        if (transport == KestrelTransport.Tls)
        {
            Certificate = LoopbackCertificate.Create();
        }
    }

    /// <summary>How the host listens.</summary>
    public KestrelTransport Transport { get; }

    /// <summary>
    /// The self-signed server certificate (with its private key) for <see cref="KestrelTransport.Tls"/>; a client
    /// trusts it as a custom root. <see langword="null"/> for cleartext transports.
    /// </summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>The port the host listens on.</summary>
    /// <exception cref="InvalidOperationException">The host is not started.</exception>
    public int Port => BaseUri.Port;

    /// <summary><c>ws://127.0.0.1:{port}/</c>, or <c>wss://…</c> for TLS.</summary>
    /// <exception cref="InvalidOperationException">The host is not started.</exception>
    public Uri BaseUri => _baseUri ?? throw new InvalidOperationException("The host is not started.");

    /// <summary><c>http://127.0.0.1:{port}/</c>, or <c>https://…</c> for TLS, for plain HTTP requests.</summary>
    /// <exception cref="InvalidOperationException">The host is not started.</exception>
    public Uri HttpBaseUri => new UriBuilder(BaseUri) { Scheme = Transport == KestrelTransport.Tls ? "https" : "http" }.Uri;

    /// <summary>A snapshot of every request received so far, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    /// <summary>Creates and starts a host with the built-in endpoints only.</summary>
    public static Task<KestrelWebSocketHost> StartNewAsync(
        KestrelTransport transport = KestrelTransport.Http11, CancellationToken cancellationToken = default) =>
        StartNewAsync(transport, static _ => { }, cancellationToken);

    /// <summary>
    /// Creates a host, lets <paramref name="map"/> add its endpoints (<see cref="Map"/>) and starts it; the host is
    /// disposed when it does not start.
    /// </summary>
    public static async Task<KestrelWebSocketHost> StartNewAsync(
        KestrelTransport transport, Action<KestrelWebSocketHost> map, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(map);
        var host = new KestrelWebSocketHost(transport);
        try
        {
            map(host);
            await host.StartAsync(cancellationToken: cancellationToken);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>Builds the address of <paramref name="pathAndQuery"/> on this host (<c>ws://</c> or <c>wss://</c>).</summary>
    public Uri GetUri(string pathAndQuery) => new(BaseUri, pathAndQuery);

    /// <summary>
    /// Adds an endpoint for the exact path <paramref name="path"/> (case-insensitive); it takes precedence over the
    /// built-in ones. Must be called before <see cref="StartAsync"/>.
    /// </summary>
    /// <returns>This host, for chaining.</returns>
    public KestrelWebSocketHost Map(string path, Func<HttpContext, Task> handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(handler);
        if (_app is not null)
        {
            throw new InvalidOperationException("Endpoints must be mapped before the host starts.");
        }

        _endpoints[path.StartsWith('/') ? path : "/" + path] = handler;
        return this;
    }

    /// <summary>Starts listening; bounded by <paramref name="timeout"/> (default <see cref="TestTimeouts.Default"/>).</summary>
    /// <exception cref="TimeoutException">Kestrel did not start within the timeout.</exception>
    public async Task StartAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_app is not null)
        {
            throw new InvalidOperationException("The host is already started.");
        }

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(KestrelWebSocketHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddLogging();
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.AddServerHeader = false;
            options.Listen(IPAddress.Loopback, 0, listen =>
            {
                switch (Transport)
                {
                    case KestrelTransport.Http11:
                        listen.Protocols = HttpProtocols.Http1;
                        break;
                    case KestrelTransport.Http2Cleartext:
                        listen.Protocols = HttpProtocols.Http2;
                        break;
                    default:
                        listen.Protocols = HttpProtocols.Http1AndHttp2;
                        listen.UseHttps(Certificate!);
                        break;
                }
            });
        });

        var app = builder.Build();
        _app = app;
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Use((context, next) =>
        {
            Record(context.Request);
            return next(context);
        });
        app.Run(DispatchAsync);

        var limit = timeout ?? TestTimeouts.Default;
        using var source = TestTimeouts.CreateLinkedSource(limit, cancellationToken);
        try
        {
            await app.StartAsync(source.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Kestrel did not start within {limit}.");
        }

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.Single();
        var port = new Uri(address).Port;
        var scheme = Transport == KestrelTransport.Tls ? "wss" : "ws";
        _baseUri = new Uri($"{scheme}://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
    }

    /// <summary>Stops Kestrel (bounded), ending every open WebSocket, and releases the certificate. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        if (_app is not null)
        {
            using var source = new CancellationTokenSource(TestTimeouts.Short);
            try
            {
                await _app.StopAsync(source.Token);
            }
            catch (OperationCanceledException)
            {
                // Connections that did not drain in time are aborted by DisposeAsync below.
            }

            await _app.DisposeAsync();
        }

        _stopping.Dispose();
        Certificate?.Dispose();
    }

    /// <summary>
    /// For an endpoint added with <see cref="Map"/>: accepts the WebSocket request with <paramref name="accept"/> and
    /// echoes every message until the client closes or goes away, as the built-in echo does; a plain HTTP request gets 400.
    /// </summary>
    public static async Task AcceptAndEchoAsync(HttpContext context, WebSocketAcceptContext accept)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        try
        {
            using WebSocket webSocket = await context.WebSockets.AcceptWebSocketAsync(accept);
            await EchoAsync(webSocket, context.RequestAborted);
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away or the host is stopping.
        }
    }

    private static async Task EchoAsync(WebSocket webSocket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await webSocket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                if (webSocket.State == WebSocketState.CloseReceived)
                {
                    await webSocket.CloseOutputAsync(
                        result.CloseStatus ?? WebSocketCloseStatus.Empty, result.CloseStatusDescription, cancellationToken);
                }

                return;
            }

            if (message.Length + result.Count > MaxMessageBytes)
            {
                await webSocket.CloseOutputAsync(
                    WebSocketCloseStatus.MessageTooBig, "message too big", cancellationToken);
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

    private static Dictionary<string, string> LowerCasedHeaders(IHeaderDictionary headers)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, values) in headers)
        {
            result[name.ToLowerInvariant()] = values.ToString();
        }

        return result;
    }

    private void Record(HttpRequest request)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers)
        {
            headers[name] = values.ToString();
        }

        _requests.Enqueue(new RecordedRequest(
            request.Method, request.Path.Value ?? "/", request.QueryString.Value ?? string.Empty, request.Protocol, headers));
    }

    private async Task DispatchAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (_endpoints.TryGetValue(path, out var custom))
        {
            await custom(context);
            return;
        }

        if (TryGetSuffix(path, "/reject/", out var statusText) && int.TryParse(statusText, CultureInfo.InvariantCulture, out var status))
        {
            context.Response.StatusCode = status;
            context.Response.Headers[RejectReasonHeader] = "test";
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(RejectBody, Encoding.UTF8, context.RequestAborted);
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var cancellationToken = lifetime.Token;
        try
        {
            if (TryGetSuffix(path, "/close/", out var codeText) && int.TryParse(codeText, CultureInfo.InvariantCulture, out var code))
            {
                using var webSocket = await context.WebSockets.AcceptWebSocketAsync();
                using var closeTimeout = TestTimeouts.CreateLinkedSource(TestTimeouts.Short, cancellationToken);
                await webSocket.CloseAsync((WebSocketCloseStatus)code, "bye", closeTimeout.Token);
                return;
            }

            if (string.Equals(path, "/headers", StringComparison.OrdinalIgnoreCase))
            {
                var json = JsonSerializer.SerializeToUtf8Bytes(LowerCasedHeaders(context.Request.Headers));
                using var webSocket = await context.WebSockets.AcceptWebSocketAsync();
                await webSocket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
                await EchoAsync(webSocket, cancellationToken);
                return;
            }

            using (var webSocket = await context.WebSockets.AcceptWebSocketAsync())
            {
                await EchoAsync(webSocket, cancellationToken);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
        {
            // The client went away or the host is stopping: nothing to answer, and no one to tell.
        }
    }

    private static bool TryGetSuffix(string path, string prefix, out string suffix)
    {
        if (path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && path.Length > prefix.Length)
        {
            suffix = path[prefix.Length..];
            return true;
        }

        suffix = string.Empty;
        return false;
    }
}
