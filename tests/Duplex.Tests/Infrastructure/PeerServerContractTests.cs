using System.Net.WebSockets;
using System.Text.Json;

namespace Duplex.Tests.Infrastructure;

/// <summary>The behaviour every interop peer server must show, checked with the BCL <see cref="ClientWebSocket"/>.</summary>
public abstract class PeerServerContractTests(PeerServerFixture fixture)
{
    [Fact]
    public async Task PeerServer_Echo_ReturnsSameTextAndBinary()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var client = new ClientWebSocket();

        await client.ConnectAsync(fixture.GetUri("/echo"), timeout.Token);
        await client.SendTextAsync("hello ✓", timeout.Token);
        var text = await client.ReceiveMessageAsync(timeout.Token);
        var payload = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 13)).ToArray();
        await client.SendBinaryAsync(payload, timeout.Token);
        var binary = await client.ReceiveMessageAsync(timeout.Token);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);

        Assert.Equal(WebSocketMessageType.Text, text.Type);
        Assert.Equal("hello ✓", text.Text);
        Assert.Equal(WebSocketMessageType.Binary, binary.Type);
        Assert.Equal(payload, binary.Payload);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Fact]
    public async Task PeerServer_LargeMessage_EchoedWhole()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var client = new ClientWebSocket();
        var payload = new byte[32 * 1024 * 1024];
        Random.Shared.NextBytes(payload);

        await client.ConnectAsync(fixture.GetUri("/echo"), timeout.Token);
        var receive = client.ReceiveMessageAsync(timeout.Token);
        await client.SendBinaryAsync(payload, timeout.Token);
        var message = await receive;
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);

        Assert.True(payload.AsSpan().SequenceEqual(message.Payload));
    }

    [Fact]
    public async Task PeerServer_Headers_SendsJsonWithCustomHeaderThenEchoes()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var client = new ClientWebSocket();
        client.Options.SetRequestHeader("X-Api-Key", "key-123");

        await client.ConnectAsync(fixture.GetUri("/headers"), timeout.Token);
        var first = await client.ReceiveMessageAsync(timeout.Token);
        var headers = JsonSerializer.Deserialize<Dictionary<string, string>>(first.Text)!;
        await client.SendTextAsync("after", timeout.Token);
        var echoed = await client.ReceiveMessageAsync(timeout.Token);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);

        Assert.Equal(WebSocketMessageType.Text, first.Type);
        Assert.Equal("key-123", headers["x-api-key"]);
        Assert.Equal("websocket", headers["upgrade"], ignoreCase: true);
        Assert.Equal("after", echoed.Text);
    }

    [Fact]
    public async Task PeerServer_Close_ArrivesWithCodeAndReason()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var client = new ClientWebSocket();

        await client.ConnectAsync(fixture.GetUri("/close?code=4001&reason=bye"), timeout.Token);
        var message = await client.ReceiveMessageAsync(timeout.Token);

        Assert.Equal(WebSocketMessageType.Close, message.Type);
        Assert.Equal((WebSocketCloseStatus)4001, message.CloseStatus);
        Assert.Equal("bye", message.CloseStatusDescription);
    }

    [Fact]
    public async Task PeerServer_CloseAfterFirstMessage_ArrivesAfterMessage()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var client = new ClientWebSocket();

        await client.ConnectAsync(fixture.GetUri("/close?code=4002&reason=later&after=1"), timeout.Token);
        await client.SendTextAsync("trigger", timeout.Token);
        var message = await client.ReceiveMessageAsync(timeout.Token);

        Assert.Equal(WebSocketMessageType.Close, message.Type);
        Assert.Equal((WebSocketCloseStatus)4002, message.CloseStatus);
        Assert.Equal("later", message.CloseStatusDescription);
    }

    [Fact]
    public async Task PeerServer_Ping_IsAnsweredAndEchoContinues()
    {
        using var timeout = TestTimeouts.CreateSource();
        using var client = new ClientWebSocket();

        await client.ConnectAsync(fixture.GetUri("/ping"), timeout.Token);
        // ClientWebSocket answers the Ping by itself only while a receive is pending.
        var receive = client.ReceiveMessageAsync(timeout.Token);
        var ponged = await fixture.Server.WaitForStandardErrorAsync("PONG hello", cancellationToken: timeout.Token);
        await client.SendTextAsync("still open", timeout.Token);
        var echoed = await receive;
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", timeout.Token);

        Assert.True(ponged, $"The peer saw no Pong. Its standard error:\n{fixture.Server.StandardError}");
        Assert.Equal("still open", echoed.Text);
    }
}
