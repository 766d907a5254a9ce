using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Duplex.Benchmarks.Shared;
using Duplex.Client;
using Duplex.Connection;
using Duplex.Handshake;
using Duplex.Handshake.Transports;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

// Measures the managed heap an idle WebSocket connection holds on the client: GC.GetTotalMemory(true)
// before and after opening N connections to Kestrel, each with a zero-byte read pending, divided by N.
//
//   dotnet run -c Release -- <client> [count] [--tls] [--inproc]
//
// client: socket | http | clientwebsocket | connection-socket | connection-http | client
//   socket / http        the handshake result of SocketWebSocketTransport / HttpWebSocketTransport,
//                        a zero-byte ReadAsync pending on its stream (what the framing engine holds)
//   clientwebsocket      System.Net.WebSockets.ClientWebSocket with a zero-byte ReceiveAsync pending
//   connection-*         a whole idle WebSocketConnection (receive loop, keepalive timer) over that transport
//   client               a whole idle WebSocketClient (default options: socket transport, message pump, supervisor)
//   connection-socket-used  connection-socket after one 1 KiB message echoed (the baseline for the "-used" modes)
//   connection-deflate   connection-socket with permessage-deflate agreed (context takeover), no message yet
//   connection-deflate-used            ... after one 1 KiB JSON-like message echoed (compressor and inflater in use)
//   connection-deflate-nocontext-used  ... with client and server no-context-takeover, after one echo
//   connection-deflate-used-idle       ... context takeover, after one echo and two keepalive ticks (compressor released)
//   clientwebsocket-deflate[-used]     ClientWebSocket with DangerousDeflateOptions, before / after one echo
// Besides the managed heap, the line gives the growth of the process's working set per connection
// (zlib's state is native memory, outside the managed heap).
// --tls      wss:// with a private root the client trusts (TrustedRootCertificates)
// --inproc   Kestrel in this process (its own per-connection objects are then counted too);
//            by default it runs in a child process, so only the client's heap is measured.
// --hold     keep the connections open until a line is read from stdin (to take a gcdump).
if (args.Length >= 1 && args[0] == "server")
{
    await Probe.ServeAsync(args.Contains("--tls"));
    return 0;
}

if (args.Length < 1)
{
    Console.Error.WriteLine("usage: <socket|http|clientwebsocket|connection-socket|connection-http|client|connection-deflate[-used|-used-idle|-nocontext-used]|clientwebsocket-deflate[-used]> [count] [--tls] [--inproc]");
    return 2;
}

int count = args.Length >= 2 && int.TryParse(args[1], CultureInfo.InvariantCulture, out int n) ? n : 1000;
return await Probe.MeasureAsync(args[0], count, args.Contains("--tls"), args.Contains("--inproc"), args.Contains("--hold"));

/// <summary>The server and the client side of the measurement.</summary>
internal static class Probe
{
    /// <summary>Runs Kestrel with an endpoint that accepts every WebSocket and leaves it idle; prints its port and certificate, exits when stdin closes.</summary>
    public static async Task ServeAsync(bool tls)
    {
        (WebApplication app, Uri uri, X509Certificate2? certificate) = await StartKestrelAsync(tls);
        Console.WriteLine("URI " + uri.AbsoluteUri);
        Console.WriteLine("CERT " + (certificate is null ? "-" : Convert.ToBase64String(certificate.RawData)));
        await Console.In.ReadToEndAsync();
        await app.StopAsync();
    }

    public static async Task<int> MeasureAsync(string client, int count, bool tls, bool inProcess, bool hold)
    {
        Uri uri;
        byte[]? root;
        Process? server = null;
        WebApplication? app = null;
        if (inProcess)
        {
            (app, uri, X509Certificate2? certificate) = await StartKestrelAsync(tls);
            root = certificate?.RawData;
        }
        else
        {
            server = Process.Start(new ProcessStartInfo(Environment.ProcessPath!, [typeof(Probe).Assembly.Location, "server", .. tls ? new[] { "--tls" } : []])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            })!;
            string uriLine = (await server.StandardOutput.ReadLineAsync())!;
            string certLine = (await server.StandardOutput.ReadLineAsync())!;
            uri = new Uri(uriLine["URI ".Length..]);
            root = certLine == "CERT -" ? null : Convert.FromBase64String(certLine["CERT ".Length..]);
        }

        var open = new Open(client, uri, root);
        try
        {
            // Warm up with as many connections as are measured: JIT, caches, the shared handler or
            // chain policy, and the array pool grown to what this many handshakes make it keep.
            var warm = new object[count];
            for (int i = 0; i < warm.Length; i++)
            {
                warm[i] = await open.ConnectAsync();
            }

            foreach (object connection in warm)
            {
                await Open.CloseAsync(connection);
            }

            Array.Clear(warm); // closed: let them go, so a heap dump taken with --hold shows only the measured ones

            // Every array the measurement itself needs exists before the first snapshot.
            var connections = new object[count];
            var pendingReads = new ValueTask<int>[count];
            var pendingReceives = new ValueTask<ValueWebSocketReceiveResult>[count];
            await Task.Delay(500);
            long before = GC.GetTotalMemory(forceFullCollection: true);
            long rssBefore = Process.GetCurrentProcess().WorkingSet64;
            for (int i = 0; i < count; i++)
            {
                connections[i] = await open.ConnectAsync();
                switch (connections[i])
                {
                    case WebSocketHandshakeResult result:
                        pendingReads[i] = result.Stream.ReadAsync(Memory<byte>.Empty);
                        break;
                    case ClientWebSocket webSocket:
                        pendingReceives[i] = webSocket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                        break;
                    default:
                        break; // a WebSocketConnection's own receive loop waits with a zero-byte read
                }
            }

            await Task.Delay(1000);
            long after = GC.GetTotalMemory(forceFullCollection: true);
            long rssAfter = Process.GetCurrentProcess().WorkingSet64;
            double perConnection = (after - before) / (double)count / 1024;
            double rssPerConnection = (rssAfter - rssBefore) / (double)count / 1024;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{client,-18} {(tls ? "wss" : "ws"),-3} {(inProcess ? "in-process" : "child"),-10} n={count}: {perConnection:0.00} KiB per idle connection, RSS +{rssPerConnection:0.0} KiB"));
            if (hold)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"holding; pid {Environment.ProcessId}"));
                await Console.In.ReadLineAsync();
            }

            GC.KeepAlive(connections);
            GC.KeepAlive(pendingReads);
            GC.KeepAlive(pendingReceives);
            foreach (object connection in connections)
            {
                await Open.CloseAsync(connection);
            }

            return 0;
        }
        finally
        {
            if (server is not null)
            {
                server.StandardInput.Close();
                await server.WaitForExitAsync();
                server.Dispose();
            }

            if (app is not null)
            {
                await app.StopAsync();
            }
        }
    }

    private static async Task<(WebApplication App, Uri Uri, X509Certificate2? Certificate)> StartKestrelAsync(bool tls)
    {
        X509Certificate2? certificate = tls ? LoopbackServerCertificate.Create() : null;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Logging.ClearProviders();
        builder.Services.AddLogging();
        builder.WebHost.UseKestrelCore();
        builder.WebHost.ConfigureKestrel(options =>
        {
            options.AddServerHeader = false;
            options.Limits.MaxConcurrentConnections = null;
            options.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1;
                if (certificate is not null)
                {
                    listen.UseHttps(certificate);
                }
            });
        });
        WebApplication app = builder.Build();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
        app.Run(async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            // Compresses when the client offers permessage-deflate; echoes what it receives.
            using WebSocket webSocket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { DangerousEnableCompression = true });
            try
            {
                byte[] buffer = new byte[4096];
                int count = 0;
                ValueWebSocketReceiveResult result;
                while ((result = await webSocket.ReceiveAsync(buffer.AsMemory(count), context.RequestAborted)).MessageType != WebSocketMessageType.Close)
                {
                    count += result.Count;
                    if (result.EndOfMessage)
                    {
                        await webSocket.SendAsync(buffer.AsMemory(0, count), result.MessageType, true, context.RequestAborted);
                        count = 0;
                    }
                }

                await webSocket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException or IOException)
            {
                // The client went away.
            }
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        int port = new Uri(address).Port;
        return (app, new Uri($"{(tls ? "wss" : "ws")}://127.0.0.1:{port}/idle"), certificate);
    }

    /// <summary>Opens one connection of the kind measured and starts its idle read.</summary>
    private sealed class Open(string client, Uri uri, byte[]? root)
    {
        // A 1 KiB JSON-like message for the "-used" modes.
        private static readonly byte[] s_message = System.Text.Encoding.UTF8.GetBytes(
            string.Concat(Enumerable.Range(0, 40).Select(i => $"{{\"symbol\":\"BTC-USD\",\"price\":{41000 + i}.5,\"seq\":{i}}},"))).AsSpan(0, 1024).ToArray();

        private readonly X509Certificate2? _root = root is null ? null : X509CertificateLoader.LoadCertificate(root);

        public async Task<object> ConnectAsync()
        {
            switch (client)
            {
                case "socket":
                    return await SocketWebSocketTransport.Default.ConnectAsync(uri, Handshake(), NullLogger.Instance, CancellationToken.None);
                case "http":
                    return await HttpWebSocketTransport.Default.ConnectAsync(uri, Handshake(), NullLogger.Instance, CancellationToken.None);
                case "clientwebsocket":
                    var webSocket = new ClientWebSocket();
                    webSocket.Options.KeepAliveInterval = TimeSpan.Zero;
                    if (_root is not null)
                    {
                        webSocket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                            certificate is not null && certificate.GetCertHashString() == _root.GetCertHashString();
                    }

                    await webSocket.ConnectAsync(uri, CancellationToken.None);
                    return webSocket;
                case "clientwebsocket-deflate":
                case "clientwebsocket-deflate-used":
                    var deflating = new ClientWebSocket();
                    deflating.Options.KeepAliveInterval = TimeSpan.Zero;
                    deflating.Options.DangerousDeflateOptions = new WebSocketDeflateOptions();
                    await deflating.ConnectAsync(uri, CancellationToken.None);
                    if (client.EndsWith("-used", StringComparison.Ordinal))
                    {
                        await deflating.SendAsync(s_message, WebSocketMessageType.Text, true, CancellationToken.None);
                        byte[] echo = new byte[4096];
                        while (!(await deflating.ReceiveAsync(echo.AsMemory(), CancellationToken.None)).EndOfMessage)
                        {
                        }
                    }

                    return deflating;
                case "connection-deflate":
                case "connection-deflate-used":
                case "connection-deflate-nocontext-used":
                case "connection-deflate-used-idle":
                case "connection-socket-used":
                    var compressed = new WebSocketConnection(new WebSocketConnectionOptions
                    {
                        Handshake = Handshake(),
                        Transport = SocketWebSocketTransport.Default,
                        Compression =
                        {
                            Enabled = client.StartsWith("connection-deflate", StringComparison.Ordinal),
                            ClientNoContextTakeover = client.Contains("nocontext", StringComparison.Ordinal),
                            ServerNoContextTakeover = client.Contains("nocontext", StringComparison.Ordinal),
                        },
                    });
                    await compressed.ConnectAsync(uri, CancellationToken.None);
                    if (client.Contains("-used", StringComparison.Ordinal))
                    {
                        await compressed.SendAsync(s_message, WebSocketMessageType.Text);
                        await compressed.ReceiveMessageAsync();
                    }

                    if (client.EndsWith("-idle", StringComparison.Ordinal))
                    {
                        // Two keepalive ticks with no message between them: the compressor is released.
                        compressed.ReleaseIdleCompression();
                        compressed.ReleaseIdleCompression();
                    }

                    return compressed;
                case "connection-socket":
                case "connection-http":
                    var options = new WebSocketConnectionOptions
                    {
                        Handshake = Handshake(),
                        Transport = client == "connection-socket" ? SocketWebSocketTransport.Default : HttpWebSocketTransport.Default,
                    };
                    var connection = new WebSocketConnection(options);
                    await connection.ConnectAsync(uri, CancellationToken.None);
                    return connection;
                case "client":
                    var clientOptions = new WebSocketClientOptions();
                    clientOptions.Connection.Handshake = Handshake();
                    var duplexClient = new WebSocketClient(clientOptions);
                    await duplexClient.ConnectAsync(uri, cancellationToken: CancellationToken.None);
                    return duplexClient;
                default:
                    throw new ArgumentException($"Unknown client '{client}'.");
            }
        }

        public static async Task CloseAsync(object connection)
        {
            switch (connection)
            {
                case WebSocketHandshakeResult result:
                    await result.DisposeAsync();
                    break;
                case ClientWebSocket webSocket:
                    webSocket.Abort();
                    webSocket.Dispose();
                    break;
                case WebSocketConnection duplex:
                    duplex.Abort();
                    break;
                case WebSocketClient duplexClient:
                    duplexClient.Dispose();
                    break;
            }
        }

        private WebSocketHandshakeOptions Handshake()
        {
            var options = new WebSocketHandshakeOptions();
            if (_root is not null)
            {
                options.Tls.TrustedRootCertificates = [_root];
            }

            return options;
        }
    }
}
