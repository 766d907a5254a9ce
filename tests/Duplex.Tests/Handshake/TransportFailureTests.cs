using System.Net;
using System.Net.Sockets;
using Duplex.Handshake;
using Duplex.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Duplex.Tests.Handshake;

/// <summary>
/// Connect failures that are classified, redirects, and proxies. Every transport must pass these
/// (the socket transport hands proxied requests to the HTTP transport); one derived class per transport.
/// </summary>
public abstract class TransportFailureTests
{
    private IWebSocketTransport? _transport;

    /// <summary>The transport under test, one per test.</summary>
    private protected IWebSocketTransport Transport => _transport ??= CreateTransport();

    /// <summary>Creates the transport under test.</summary>
    private protected abstract IWebSocketTransport CreateTransport();

    [Fact]
    public async Task ConnectAsync_ClosedPort_FailsWithConnectionRefused()
    {
        using var timeout = TestTimeouts.CreateSource();
        int port = GetClosedPort();

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/?token=secret"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.ConnectionRefused, exception.Error);
        Assert.Equal($"The server at 127.0.0.1:{port} refused the connection.", exception.Message);
        Assert.NotNull(exception.InnerException);
    }

    [Fact]
    public async Task ConnectAsync_UnresolvableHost_FailsWithNameResolution()
    {
        using var timeout = TestTimeouts.CreateSource();
        var logger = new CapturingLogger();

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(new Uri("wss://nonexistent.invalid/socket"), new WebSocketHandshakeOptions(), logger, timeout.Token));

        Assert.Equal(WebSocketConnectError.NameResolution, exception.Error);
        Assert.Contains("nonexistent.invalid", exception.Message, StringComparison.Ordinal);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 108 && e.Exception == exception);
    }

    [Fact]
    public async Task ConnectAsync_FailureMessagesAndLogs_NeverContainQueryOrHeaderSecrets()
    {
        using var timeout = TestTimeouts.CreateSource();
        var logger = new CapturingLogger();
        var options = new WebSocketHandshakeOptions();
        options.Headers["Authorization"] = "Bearer header-secret";

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(new Uri($"ws://u:pw-secret@127.0.0.1:{GetClosedPort()}/?access_token=query-secret"), options, logger, timeout.Token));

        foreach (string secret in new[] { "header-secret", "query-secret", "pw-secret" })
        {
            Assert.DoesNotContain(secret, exception.Message, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, logger.AllText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ConnectAsync_RedirectFollowed_ToAnotherOrigin_DropsCredentialsKeepsOtherHeaders()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var target = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        await using var origin = new KestrelWebSocketHost(KestrelTransport.Http11);
        origin.Map("/old", Redirect(StatusCodes.Status302Found, target.GetUri("/echo?moved=1").AbsoluteUri));
        await origin.StartAsync(cancellationToken: timeout.Token);
        var options = new WebSocketHandshakeOptions { FollowRedirects = true };
        options.Headers["Authorization"] = "Bearer secret";
        options.Headers["Cookie"] = "sid=1";
        options.Headers["X-Api-Key"] = "k";
        options.Headers["X-Tenant"] = "tenant-1";
        var logger = new CapturingLogger();

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(origin.GetUri("/old"), options, logger, timeout.Token);

        Assert.Equal("Bearer secret", Assert.Single(origin.Requests).Headers["Authorization"]);
        RecordedRequest redirected = Assert.Single(target.Requests);
        Assert.Equal("/echo", redirected.Path);
        Assert.Equal("tenant-1", redirected.Headers["X-Tenant"]);
        Assert.False(redirected.Headers.ContainsKey("Authorization"));
        Assert.False(redirected.Headers.ContainsKey("Cookie"));
        Assert.False(redirected.Headers.ContainsKey("X-Api-Key"));
        Assert.Equal(target.GetUri("/echo?moved=1"), result.Response.Uri);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 105);
        Assert.Contains(logger.Entries, e => e.EventId.Id == 106);
        await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_RedirectWithSecretsInLocation_NeverLogsThem_AtAnyLevel()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = new KestrelWebSocketHost(KestrelTransport.Http11);
        host.Map("/old", Redirect(StatusCodes.Status302Found, "/echo?token=location-secret&sig=sig-secret&room=7"));
        await host.StartAsync(cancellationToken: timeout.Token);
        var options = new WebSocketHandshakeOptions { FollowRedirects = true };
        var logger = new CapturingLogger();

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/old?code=query-secret"), options, logger, timeout.Token);

        // The Trace line for each response header, the redirect line and the connect lines all see the URLs.
        Assert.Contains(logger.Entries, e => e.EventId.Id == 105);
        Assert.Contains("room=7", logger.AllText, StringComparison.Ordinal);
        foreach (string secret in new[] { "location-secret", "sig-secret", "query-secret" })
        {
            Assert.DoesNotContain(secret, logger.AllText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ConnectAsync_RedirectFollowed_OnTheSameOrigin_KeepsCredentials()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = new KestrelWebSocketHost(KestrelTransport.Http11);
        host.Map("/old", Redirect(StatusCodes.Status307TemporaryRedirect, "/echo"));
        await host.StartAsync(cancellationToken: timeout.Token);
        var options = new WebSocketHandshakeOptions { FollowRedirects = true };
        options.Headers["Authorization"] = "Bearer secret";

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(host.GetUri("/old"), options, new CapturingLogger(), timeout.Token);

        Assert.Equal(2, host.Requests.Count);
        Assert.Equal("/echo", host.Requests[1].Path);
        Assert.Equal("Bearer secret", host.Requests[1].Headers["Authorization"]);
        Assert.Equal(host.GetUri("/echo"), result.Response.Uri);
    }

    [Fact]
    public async Task ConnectAsync_RedirectNotFollowedByDefault_IsARejectedHandshakeWithLocation()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = new KestrelWebSocketHost(KestrelTransport.Http11);
        host.Map("/old", Redirect(StatusCodes.Status301MovedPermanently, "/echo"));
        await host.StartAsync(cancellationToken: timeout.Token);

        var exception = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(
            () => Transport.ConnectAsync(host.GetUri("/old"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token));

        Assert.Equal(301, exception.StatusCode);
        Assert.Equal("/echo", Assert.Single(exception.Headers["Location"]));
        Assert.Single(host.Requests);
    }

    [Fact]
    public async Task ConnectAsync_RedirectLoop_FailsWithTooManyRedirects()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = new KestrelWebSocketHost(KestrelTransport.Http11);
        host.Map("/loop", Redirect(StatusCodes.Status302Found, "/loop"));
        await host.StartAsync(cancellationToken: timeout.Token);
        var options = new WebSocketHandshakeOptions { FollowRedirects = true, MaxRedirects = 3 };

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(host.GetUri("/loop"), options, new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.TooManyRedirects, exception.Error);
        Assert.Equal(4, host.Requests.Count);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1/file")]
    [InlineData("mailto:someone@example.com")]
    public async Task ConnectAsync_RedirectToAnotherScheme_FailsWithInvalidHandshake(string location)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = new KestrelWebSocketHost(KestrelTransport.Http11);
        host.Map("/old", Redirect(StatusCodes.Status308PermanentRedirect, location));
        await host.StartAsync(cancellationToken: timeout.Token);

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(host.GetUri("/old"), new WebSocketHandshakeOptions { FollowRedirects = true }, new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
    }

    [Fact]
    public async Task ConnectAsync_OpenTimeoutCoversRedirects()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var stalling = new RawWebSocketServer();
        await using var host = new KestrelWebSocketHost(KestrelTransport.Http11);
        host.Map("/old", Redirect(StatusCodes.Status302Found, stalling.GetUri("/never").AbsoluteUri));
        await host.StartAsync(cancellationToken: timeout.Token);
        var options = new WebSocketHandshakeOptions { FollowRedirects = true, OpenTimeout = TimeSpan.FromSeconds(2) };

        // The stalling server never accepts: the listen backlog completes the TCP handshake and the
        // request waits there unanswered.
        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(host.GetUri("/old"), options, new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.Timeout, exception.Error);
        Assert.Single(host.Requests);
    }

    [Fact]
    public async Task ConnectAsync_ExplicitProxyThatRefuses_FailsWithProxyError()
    {
        using var timeout = TestTimeouts.CreateSource();
        var options = new WebSocketHandshakeOptions { Proxy = new WebProxy($"http://127.0.0.1:{GetClosedPort()}") { BypassProxyOnLocal = false } };

        var exception = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => Transport.ConnectAsync(new Uri("ws://example.com/"), options, new CapturingLogger(), timeout.Token));

        Assert.Equal(WebSocketConnectError.Proxy, exception.Error);
    }

    [Fact]
    public async Task ConnectAsync_ExplicitProxy_TunnelsTheWebSocketWithConnect()
    {
        // A ws:// request through an HTTP proxy must become a CONNECT tunnel, not a forwarded GET.
        (RawHttpRequest request, WebSocketConnectException exception) = await ConnectThroughRefusingProxyAsync(
            new Uri("ws://example.com:8123/chat"), "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal("CONNECT", request.Method);
        Assert.Equal("example.com:8123", request.Target);
        Assert.Equal(WebSocketConnectError.Proxy, exception.Error);
        Assert.Equal(403, exception.ProxyStatusCode);
        Assert.Contains("HTTP 403", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectAsync_ProxyAsksForCredentials_TheErrorCarries407()
    {
        (_, WebSocketConnectException exception) = await ConnectThroughRefusingProxyAsync(
            new Uri("wss://example.com/chat"),
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal(WebSocketConnectError.Proxy, exception.Error);
        Assert.Equal(407, exception.ProxyStatusCode);
        Assert.Contains("proxy authentication required", exception.Message, StringComparison.Ordinal);
    }

    /// <summary>Connects to <paramref name="uri"/> through a scripted proxy that answers the tunnel request with <paramref name="response"/>.</summary>
    private async Task<(RawHttpRequest Request, WebSocketConnectException Exception)> ConnectThroughRefusingProxyAsync(Uri uri, string response)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var proxy = new RawWebSocketServer();
        var options = new WebSocketHandshakeOptions { Proxy = new WebProxy(new Uri($"http://127.0.0.1:{proxy.Port}")) };

        Task<WebSocketHandshakeResult> connect = Transport.ConnectAsync(uri, options, new CapturingLogger(), timeout.Token);
        RawConnection connection = await proxy.AcceptAsync(cancellationToken: timeout.Token);
        RawHttpRequest request = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
        await connection.WriteRawAsync(response, timeout.Token);
        return (request, await Assert.ThrowsAsync<WebSocketConnectException>(() => connect));
    }

    [Fact]
    public async Task ConnectAsync_ProxyWithCredentials_AuthenticatesTheTunnel_ThenUpgradesThroughIt()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var proxy = new RawWebSocketServer();
        var options = new WebSocketHandshakeOptions
        {
            Proxy = new WebProxy(new Uri($"http://127.0.0.1:{proxy.Port}")) { Credentials = new NetworkCredential("proxyuser", "proxypass") },
        };
        options.Headers["Authorization"] = "Bearer origin-token";
        var logger = new CapturingLogger();
        string? proxyAuthorization = null;
        RawHttpRequest? tunneled = null;

        // The proxy answers the first CONNECT with 407, accepts the authenticated one, and then plays
        // the origin server at the end of the tunnel.
        Task serve = Task.Run(async () =>
        {
            while (true)
            {
                RawConnection connection = await proxy.AcceptAsync(cancellationToken: timeout.Token);
                try
                {
                    while (true)
                    {
                        RawHttpRequest connect = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
                        if (!connect.Headers.TryGetValue("Proxy-Authorization", out proxyAuthorization))
                        {
                            await connection.WriteRawAsync("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"proxy\"\r\nContent-Length: 0\r\n\r\n", timeout.Token);
                            continue;
                        }

                        await connection.WriteRawAsync("HTTP/1.1 200 Connection Established\r\n\r\n", timeout.Token);
                        tunneled = await connection.ReadRequestAsync(cancellationToken: timeout.Token);
                        await connection.AcceptHandshakeAsync(cancellationToken: timeout.Token);
                        return;
                    }
                }
                catch (EndOfStreamException)
                {
                    // The client opens a new connection for the authenticated attempt.
                }
            }
        });

        await using WebSocketHandshakeResult result = await Transport.ConnectAsync(new Uri("ws://example.com:8123/chat"), options, logger, timeout.Token);
        await serve;

        Assert.Equal("Basic " + Convert.ToBase64String("proxyuser:proxypass"u8.ToArray()), proxyAuthorization);
        Assert.NotNull(tunneled);
        Assert.Equal("GET", tunneled.Method);
        Assert.Equal("/chat", tunneled.Target);
        Assert.Equal("example.com:8123", tunneled.Headers["Host"]);
        Assert.Equal("Bearer origin-token", tunneled.Headers["Authorization"]);
        Assert.False(tunneled.Headers.ContainsKey("Proxy-Authorization"));
        Assert.Equal(101, result.Response.StatusCode);
        Assert.DoesNotContain("proxypass", logger.AllText, StringComparison.Ordinal);
    }

    private static Func<HttpContext, Task> Redirect(int status, string location) => context =>
    {
        context.Response.StatusCode = status;
        context.Response.Headers.Location = location;
        return Task.CompletedTask;
    };

    private protected static int GetClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
