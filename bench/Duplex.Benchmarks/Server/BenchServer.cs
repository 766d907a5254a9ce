using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Duplex.Benchmarks.Server;

/// <summary>
/// The loopback benchmark's server: Kestrel on 127.0.0.1 (HTTP/1.1 only), with a hand-made
/// 101 response (RFC 6455 §4.2.2) and raw frame handling on the upgraded stream, endpoints
/// <c>/push</c>, <c>/sink</c>, <c>/echo</c> and <c>/idle</c>. Connection limits are lifted so it
/// can hold the idle scenario's 10,000 connections. With a certificate it serves <c>wss://</c>.
/// </summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    private readonly WebApplication _app;
    private int _open;

    private BenchServer(WebApplication app)
    {
        _app = app;
    }

    /// <summary>The base address, <c>ws://127.0.0.1:PORT</c> (<c>wss://</c> with a certificate).</summary>
    public Uri BaseUri { get; private set; } = null!;

    /// <summary>Upgraded connections open right now.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    public static async Task<BenchServer> StartAsync(X509Certificate2? certificate = null, int port = 0)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = null;
            kestrel.Limits.MaxConcurrentUpgradedConnections = null;
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            kestrel.Listen(IPAddress.Loopback, port, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });
        WebApplication app = builder.Build();
        var server = new BenchServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var http = new Uri(address);
        server.BaseUri = new Uri($"{(certificate is null ? "ws" : "wss")}://127.0.0.1:{http.Port.ToString(CultureInfo.InvariantCulture)}");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Connections that did not close in time are dropped with the process.
        }

        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        string path = context.Request.Path.Value ?? string.Empty;
        IQueryCollection query = context.Request.Query;
        if (path is not ("/push" or "/sink" or "/echo" or "/idle"))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        Stream? stream = await UpgradeAsync(context).ConfigureAwait(false);
        if (stream is null)
        {
            return;
        }

        ServerSession session = path switch
        {
            "/push" => new PushSession(stream, ReadLong(query, "count", 1000), (int)ReadLong(query, "size", 64)),
            "/sink" => new SinkSession(stream),
            "/echo" => new EchoSession(stream),
            _ => new IdleSession(stream),
        };
        Interlocked.Increment(ref _open);
        try
        {
            await session.RunAsync(context.RequestAborted).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    /// <summary>Answers the opening handshake by hand and returns the upgraded stream, or null after a 400.</summary>
    private static async Task<Stream?> UpgradeAsync(HttpContext context)
    {
        IHttpUpgradeFeature? upgrade = context.Features.Get<IHttpUpgradeFeature>();
        string? key = context.Request.Headers["Sec-WebSocket-Key"];
        if (upgrade is null || !upgrade.IsUpgradableRequest || string.IsNullOrEmpty(key))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        // RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)).
        string accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));
        context.Response.Headers.Connection = "Upgrade";
        context.Response.Headers.Upgrade = "websocket";
        context.Response.Headers["Sec-WebSocket-Accept"] = accept;
        return await upgrade.UpgradeAsync().ConfigureAwait(false);
    }

    private static long ReadLong(IQueryCollection query, string name, long fallback) =>
        long.TryParse(query[name].ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value >= 0 ? value : fallback;
}
