using System.Net.WebSockets;

namespace Duplex.Tests.Infrastructure;

public sealed class DotNetServerPeerTests
{
    [Fact]
    public async Task DotNetServerPeer_Echo_ReturnsSameMessage()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var peer = new DotNetServerPeer();
        using var client = new ClientWebSocket();
        client.Options.SetRequestHeader("X-Client-Info", "infra-test");

        var connect = client.ConnectAsync(peer.GetUri("/echo"), timeout.Token);
        var server = await peer.AcceptAsync(cancellationToken: timeout.Token);
        await connect;
        await client.SendTextAsync("ping-pong", timeout.Token);
        var atServer = await server.ReceiveMessageAsync(timeout.Token);
        await server.SendTextAsync(atServer.Text, timeout.Token);
        var atClient = await client.ReceiveMessageAsync(timeout.Token);

        Assert.Equal("ping-pong", atClient.Text);
        Assert.Equal(WebSocketMessageType.Text, atClient.Type);
        Assert.Equal("infra-test", Assert.Single(peer.Requests).Headers["x-client-info"]);
        Assert.Equal("/echo", peer.Requests[0].Target);
    }

    [Fact]
    public async Task DotNetServerPeer_ServerClose_HandshakeCompletesOnBothSides()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var peer = new DotNetServerPeer();
        using var client = new ClientWebSocket();
        client.Options.AddSubProtocol("json");

        var connect = client.ConnectAsync(peer.Uri, timeout.Token);
        var server = await peer.AcceptAsync(subProtocol: "json", cancellationToken: timeout.Token);
        await connect;
        var serverClose = server.CloseAsync((WebSocketCloseStatus)4003, "server done", timeout.Token);
        var atClient = await client.ReceiveMessageAsync(timeout.Token);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);
        await serverClose;

        Assert.Equal("json", client.SubProtocol);
        Assert.Equal((WebSocketCloseStatus)4003, atClient.CloseStatus);
        Assert.Equal("server done", atClient.CloseStatusDescription);
        Assert.Equal(WebSocketState.Closed, server.State);
    }

    [Fact]
    public async Task DotNetServerPeer_NoClient_AcceptTimesOut()
    {
        await using var peer = new DotNetServerPeer();

        await Assert.ThrowsAsync<TimeoutException>(() => peer.AcceptAsync(TimeSpan.FromMilliseconds(100)));
    }
}
