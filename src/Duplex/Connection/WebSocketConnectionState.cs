namespace Duplex.Connection;

/// <summary>The life cycle of one <see cref="WebSocketConnection"/>.</summary>
public enum WebSocketConnectionState
{
    /// <summary>The opening handshake is in progress.</summary>
    Connecting,

    /// <summary>The connection is established; messages flow both ways.</summary>
    Open,

    /// <summary>A Close frame was sent or received; the closing handshake is in progress.</summary>
    Closing,

    /// <summary>The connection is closed (cleanly, by a failure, or by an abort) and its socket released.</summary>
    Closed,
}
