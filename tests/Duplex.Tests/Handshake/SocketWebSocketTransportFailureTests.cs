using System.Net;
using System.Net.Sockets;
using Duplex.Handshake;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Duplex.Tests.Handshake;

/// <summary>
/// The failure, redirect and proxy scenarios through the socket transport, plus how it hands a
/// redirect it cannot follow itself to the HTTP transport.
/// </summary>
public sealed class SocketWebSocketTransportFailureTests : TransportFailureTests
{
    /// <inheritdoc />
    private protected override IWebSocketTransport CreateTransport() => new WebSocketTransportSelector(new SocketWebSocketTransport(), new HttpWebSocketTransport());

    [Fact]
    public async Task ConnectAsync_RedirectToAHostTheEnvironmentProxies_IsHandedToTheHttpTransport()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var target = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        await using var origin = new KestrelWebSocketHost(KestrelTransport.Http11);
        Uri redirected = new($"ws://localhost:{target.Port}/echo");
        origin.Map("/old", context =>
        {
            context.Response.StatusCode = StatusCodes.Status302Found;
            context.Response.Headers.Location = redirected.AbsoluteUri;
            return Task.CompletedTask;
        });
        await origin.StartAsync(cancellationToken: timeout.Token);

        // The stand-in environment proxy claims "localhost" (only): the first hop is the socket
        // transport's, the second must go through SocketsHttpHandler, which applies the real
        // environment's proxy settings (none here) and connects.
        var transport = new WebSocketTransportSelector(new SocketWebSocketTransport(), new HttpWebSocketTransport(), defaultProxy: new HostProxy("localhost"));
        await using WebSocketHandshakeResult result = await transport.ConnectAsync(
            origin.GetUri("/old"), new WebSocketHandshakeOptions { FollowRedirects = true }, new CapturingLogger(), timeout.Token);

        Assert.Equal(redirected, result.Response.Uri);
        Assert.IsNotType<NetworkStream>(result.Stream);
        await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    [Fact]
    public async Task ConnectAsync_ProxyBypassedForTheHost_ConnectsStraightToTheServer()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, timeout.Token);
        var transport = new WebSocketTransportSelector(new SocketWebSocketTransport(), new HttpWebSocketTransport(), defaultProxy: new HostProxy("example.com"));

        await using WebSocketHandshakeResult result = await transport.ConnectAsync(host.GetUri("/echo"), new WebSocketHandshakeOptions(), new CapturingLogger(), timeout.Token);

        Assert.IsType<NetworkStream>(result.Stream);
        await TransportKestrelTests.AssertEchoesAsync(result.Stream, null, timeout.Token);
    }

    /// <summary>An environment proxy that proxies one host name and bypasses every other.</summary>
    private sealed class HostProxy(string proxiedHost) : IWebProxy
    {
        public ICredentials? Credentials { get; set; }

        public Uri? GetProxy(Uri destination) =>
            IsBypassed(destination) ? destination : new Uri("http://proxy.invalid:3128/");

        public bool IsBypassed(Uri host) => !host.Host.Equals(proxiedHost, StringComparison.OrdinalIgnoreCase);
    }
}
