using System.Net.WebSockets;

namespace Duplex.Protocol;

/// <summary>
/// The closing handshake of RFC 6455 §7 as one endpoint sees it: the Close each side sent, who
/// sent first, what we owe the peer, and how to read the end of the TCP connection. Pure state,
/// no I/O; its owner guards it.
/// </summary>
internal sealed class CloseHandshake
{
    private bool _localStarted;
    private bool _remoteReceived;
    private bool _peerFirst;

    /// <summary>The status our Close carries, once it is queued (null for an empty Close).</summary>
    public WebSocketCloseStatus? LocalStatus { get; private set; }

    /// <summary>The reason our Close carries.</summary>
    public string? LocalReason { get; private set; }

    /// <summary>The status the peer's Close carried, once it arrived (null if it carried none).</summary>
    public WebSocketCloseStatus? RemoteStatus { get; private set; }

    /// <summary>The reason the peer's Close carried.</summary>
    public string? RemoteReason { get; private set; }

    /// <summary>Whether our Close is queued or sent.</summary>
    public bool LocalStarted => _localStarted;

    /// <summary>Whether the peer's Close arrived.</summary>
    public bool RemoteReceived => _remoteReceived;

    /// <summary>Whether the peer's Close came before ours was queued: the peer started the handshake.</summary>
    public bool PeerClosedFirst => _peerFirst;

    /// <summary>
    /// RFC 6455 §5.5.1: an endpoint sends one Close. Records ours; false when one is already on its way.
    /// Recorded before the frame can reach the network, so a peer that answers at once and drops TCP
    /// finds the handshake started.
    /// </summary>
    public bool TryStartLocal(WebSocketCloseStatus? status, string? reason)
    {
        if (_localStarted)
        {
            return false;
        }

        _localStarted = true;
        LocalStatus = status;
        LocalReason = reason;
        return true;
    }

    /// <summary>Our Close could not be queued after all (the connection had ended): none was sent.</summary>
    public void ForgetLocal()
    {
        _localStarted = false;
        LocalStatus = null;
        LocalReason = null;
    }

    /// <summary>
    /// The peer's Close arrived. Returns the status our answering Close carries: RFC 6455 §5.5.1, the
    /// endpoint "typically echos the status code it received" (an empty Close answers one with none).
    /// </summary>
    public WebSocketCloseStatus? OnRemoteClose(WebSocketCloseStatus? status, string? reason)
    {
        _remoteReceived = true;
        _peerFirst = !_localStarted;
        RemoteStatus = status;
        RemoteReason = reason;
        return status;
    }

    /// <summary>
    /// Whether the peer ending TCP now ends the connection cleanly: RFC 6455 §7.1.1, the server closes
    /// the TCP connection after the Close frames; a server that drops TCP right after our Close ended
    /// the handshake its own way. Before any Close, the end of TCP is a lost connection (§7.1.5, 1006).
    /// </summary>
    public bool EndOfStreamIsClean => _localStarted;

    /// <summary>The error for an operation attempted after the handshake began, with the codes of the side that started it.</summary>
    public WebSocketClosedException ClosedError(string message) => _peerFirst
        ? new(message, RemoteStatus, RemoteReason, closedByPeer: true)
        : new(message, LocalStatus, LocalReason, closedByPeer: false);
}
