using System.Net.WebSockets;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>
/// The interop scenarios against a peer server on another stack (see <c>tests/peers/README.md</c>), plus what only the
/// peers offer here: a server-sent Ping whose Pong the peer reports on its standard error.
/// </summary>
public abstract class PeerInteropTests(PeerServerFixture fixture) : InteropTests
{
    /// <summary>The running peer.</summary>
    protected PeerServer Server => fixture.Server;

    /// <inheritdoc />
    protected override Uri EchoUri => Server.GetUri("/echo");

    /// <inheritdoc />
    protected override Uri HeadersUri => Server.GetUri("/headers");

    /// <inheritdoc />
    protected override Uri SubProtocolUri => Server.GetUri("/echo");

    /// <inheritdoc />
    protected override string ServerCloseReason => "maintenance — back in 5 min ✓";

    /// <inheritdoc />
    protected override Uri GetServerCloseUri(int code) =>
        Server.GetUri($"/close?code={code}&reason={Uri.EscapeDataString(ServerCloseReason)}");

    [Fact]
    public async Task ServerPing_WithoutApplicationReceiving_IsAnsweredWithPong()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(Server.GetUri("/ping"), timeout.Token);

        // No receive call: the connection's own receive loop must answer the Ping.
        bool ponged = await Server.WaitForStandardErrorAsync("PONG hello", TestTimeouts.Default, timeout.Token);

        Assert.True(ponged, $"The {Server.Kind} peer saw no Pong. Its standard error:\n{Server.StandardError}");
        await connection.SendTextAsync("still open", timeout.Token);
        Assert.Equal("still open", (await connection.ReceiveMessageAsync(timeout.Token)).Text);
    }

    [Fact]
    public async Task ReceiveMessageAsync_ServerClosesAfterFirstMessage_ReturnsClose()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(Server.GetUri("/close?code=4002&reason=after&after=1"), timeout.Token);
        await connection.SendTextAsync("trigger", timeout.Token);

        WebSocketMessage message = await connection.ReceiveMessageAsync(timeout.Token);

        Assert.True(message.IsClose, $"Expected a Close, got {message}.");
        Assert.Equal((WebSocketCloseStatus)4002, message.CloseStatus);
        Assert.Equal("after", message.CloseStatusDescription);
        await connection.Completion.WaitAsync(timeout.Token);
        Assert.Equal(WebSocketConnectionState.Closed, connection.State);
        Assert.Null(connection.CloseError);
    }
}
