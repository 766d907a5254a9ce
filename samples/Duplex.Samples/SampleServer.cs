using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace Duplex.Samples;

/// <summary>
/// The local server every sample talks to (Kestrel on 127.0.0.1, nothing leaves the machine):
/// <list type="bullet">
/// <item><c>/echo</c> greets the client by its <c>X-Client-Name</c> header, then echoes.</item>
/// <item><c>/feed</c> wants <c>Authorization: Bearer demo-token</c> (else 401 with a body), answers
/// <c>auth</c> and <c>subscribe</c> JSON messages, pushes ticks; <c>?drop=1</c> restarts (close 1012)
/// the first connection after its first tick, to show a reconnect.</item>
/// <item><c>/tls</c> (on the HTTPS port) greets the client by its certificate.</item>
/// </list>
/// The HTTPS port uses a server certificate issued by a private CA made at start-up
/// (<see cref="CertificateAuthority"/>), so clients must trust that CA explicitly.
/// </summary>
internal sealed class SampleServer : IAsyncDisposable
{
    public const string DemoToken = "demo-token";

    private readonly WebApplication _app;
    private int _feedConnections;

    private SampleServer(WebApplication app, X509Certificate2 authority, int httpPort, int httpsPort)
    {
        _app = app;
        CertificateAuthority = authority;
        HttpPort = httpPort;
        HttpsPort = httpsPort;
    }

    /// <summary>The CA that issued the server certificate; trust it to connect to the HTTPS port.</summary>
    public X509Certificate2 CertificateAuthority { get; }

    public int HttpPort { get; }

    public int HttpsPort { get; }

    public Uri Ws(string path) => new($"ws://127.0.0.1:{HttpPort}{path}");

    public Uri Wss(string path) => new($"wss://localhost:{HttpsPort}{path}");

    public static async Task<SampleServer> StartAsync()
    {
        using X509Certificate2 authorityWithKey = CreateAuthority();
        X509Certificate2 serverCertificate = IssueServerCertificate(authorityWithKey);
        var authority = X509CertificateLoader.LoadCertificate(authorityWithKey.Export(X509ContentType.Cert));

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        int httpPort = FreePort();
        int httpsPort = FreePort();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, httpPort);
            kestrel.Listen(IPAddress.Loopback, httpsPort, listen => listen.UseHttps(https =>
            {
                https.ServerCertificate = serverCertificate;
                https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
                https.AllowAnyClientCertificate();
            }));
        });
        WebApplication app = builder.Build();
        var server = new SampleServer(app, authority, httpPort, httpsPort);
        app.UseWebSockets();
        app.Map("/echo", server.EchoAsync);
        app.Map("/feed", server.FeedAsync);
        app.Map("/tls", server.TlsAsync);
        await app.StartAsync();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        CertificateAuthority.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static X509Certificate2 CreateAuthority()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=Duplex Samples CA", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));

        // The CA outlives the certificates it issues.
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(2));
    }

    private static X509Certificate2 IssueServerCertificate(X509Certificate2 authority)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        byte[] serial = RandomNumberGenerator.GetBytes(8);
        using X509Certificate2 issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), serial);
        using X509Certificate2 withKey = issued.CopyWithPrivateKey(key);

        // Round-trip through PFX so the key is usable by the TLS stack on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private async Task EchoAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        string name = context.Request.Headers["X-Client-Name"].ToString();
        await SendTextAsync(socket, $"hello {(name.Length > 0 ? name : "stranger")}", context.RequestAborted);
        await EchoLoopAsync(socket, context.RequestAborted);
    }

    private async Task TlsAsync(HttpContext context)
    {
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        X509Certificate2? certificate = await context.Connection.GetClientCertificateAsync(context.RequestAborted);
        await SendTextAsync(socket, $"hello {certificate?.GetNameInfo(X509NameType.SimpleName, false) ?? "anonymous"} over {context.Request.Protocol}", context.RequestAborted);
        await EchoLoopAsync(socket, context.RequestAborted);
    }

    private async Task FeedAsync(HttpContext context)
    {
        if (context.Request.Headers.Authorization != $"Bearer {DemoToken}")
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await context.Response.WriteAsync("a valid bearer token is required");
            return;
        }

        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        bool drop = context.Request.Query["drop"] == "1" && Interlocked.Increment(ref _feedConnections) == 1;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        Task ticks = TickAsync(socket, drop, stop.Token);
        byte[] buffer = new byte[16 * 1024];
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, context.RequestAborted);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", context.RequestAborted);
                    break;
                }

                using JsonDocument request = JsonDocument.Parse(buffer.AsMemory(0, result.Count));
                string? type = request.RootElement.GetProperty("type").GetString();
                string reply = type switch
                {
                    "auth" => JsonSerializer.Serialize(new { type = "auth_response", ok = request.RootElement.GetProperty("token").GetString() == DemoToken }),
                    "subscribe" => JsonSerializer.Serialize(new { type = "subscribed", channel = request.RootElement.GetProperty("channel").GetString() }),
                    _ => JsonSerializer.Serialize(new { type = "error", message = "unknown request" }),
                };
                await SendTextAsync(socket, reply, context.RequestAborted);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The client went away.
        }
        finally
        {
            await stop.CancelAsync();
            await ticks.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private static async Task TickAsync(WebSocket socket, bool drop, CancellationToken cancellationToken)
    {
        for (int sequence = 1; !cancellationToken.IsCancellationRequested && socket.State == WebSocketState.Open; sequence++)
        {
            await Task.Delay(150, cancellationToken);
            await SendTextAsync(socket, JsonSerializer.Serialize(new { type = "tick", seq = sequence }), cancellationToken);
            if (drop)
            {
                // RFC 6455 1012 "service restart": a well-behaved client comes back.
                await socket.CloseOutputAsync((WebSocketCloseStatus)1012, "restarting", cancellationToken);
                return;
            }
        }
    }

    private static async Task EchoLoopAsync(WebSocket socket, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[64 * 1024];
        var message = new MemoryStream();
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, cancellationToken);
                return;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                await socket.SendAsync(message.ToArray(), result.MessageType, true, cancellationToken);
                message.SetLength(0);
            }
        }
    }

    private static Task SendTextAsync(WebSocket socket, string text, CancellationToken cancellationToken) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cancellationToken);
}
