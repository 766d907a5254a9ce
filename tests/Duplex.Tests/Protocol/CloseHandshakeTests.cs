using System.Net.WebSockets;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public sealed class CloseHandshakeTests
{
    [Fact]
    public void WeCloseFirst_OneCloseOnly_AndTheEndOfTcpIsClean()
    {
        var handshake = new CloseHandshake();
        Assert.False(handshake.EndOfStreamIsClean); // RFC 6455 §7.1.5: no Close yet, the end of TCP is 1006

        Assert.True(handshake.TryStartLocal(WebSocketCloseStatus.NormalClosure, "bye"));
        Assert.False(handshake.TryStartLocal(WebSocketCloseStatus.ProtocolError, null));

        Assert.Equal(WebSocketCloseStatus.NormalClosure, handshake.LocalStatus);
        Assert.Equal("bye", handshake.LocalReason);
        Assert.True(handshake.EndOfStreamIsClean);

        handshake.OnRemoteClose(WebSocketCloseStatus.NormalClosure, "ok");
        Assert.False(handshake.PeerClosedFirst);
        WebSocketClosedException error = handshake.ClosedError("closed");
        Assert.False(error.ClosedByPeer);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, error.CloseStatus);
        Assert.Equal("bye", error.CloseDescription);
    }

    [Fact]
    public void PeerClosesFirst_ItsStatusIsEchoed_AndErrorsNameThePeer()
    {
        var handshake = new CloseHandshake();

        WebSocketCloseStatus? answer = handshake.OnRemoteClose(WebSocketCloseStatus.EndpointUnavailable, "going away");

        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, answer);
        Assert.True(handshake.PeerClosedFirst);
        Assert.True(handshake.RemoteReceived);
        WebSocketClosedException error = handshake.ClosedError("closed");
        Assert.True(error.ClosedByPeer);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, error.CloseStatus);
        Assert.Equal("going away", error.CloseDescription);
    }

    [Fact]
    public void PeerCloseWithoutStatus_IsAnsweredWithAnEmptyClose()
    {
        var handshake = new CloseHandshake();

        Assert.Null(handshake.OnRemoteClose(null, null));
        Assert.True(handshake.TryStartLocal(null, null));
        Assert.True(handshake.EndOfStreamIsClean);
    }

    [Fact]
    public void ForgetLocal_ACloseThatCouldNotBeQueued_LeavesNoTrace()
    {
        var handshake = new CloseHandshake();
        handshake.TryStartLocal(WebSocketCloseStatus.NormalClosure, "bye");

        handshake.ForgetLocal();

        Assert.False(handshake.LocalStarted);
        Assert.Null(handshake.LocalStatus);
        Assert.False(handshake.EndOfStreamIsClean);
    }
}
