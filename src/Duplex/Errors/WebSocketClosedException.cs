using System.Net.WebSockets;

namespace Duplex;

/// <summary>
/// The operation could not complete because the connection is closed or was lost. The close codes
/// of both sides are given where they are known; a lost TCP connection reads as 1006
/// (<see cref="WebSocketCloseStatus.Empty"/> is never used for that), with the original cause as
/// <see cref="Exception.InnerException"/>.
/// </summary>
public sealed class WebSocketClosedException : DuplexException
{
    /// <summary>Creates an exception with a default message.</summary>
    public WebSocketClosedException()
        : base("The WebSocket connection is closed.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">One sentence that says why the connection is closed.</param>
    public WebSocketClosedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">One sentence that says why the connection is closed.</param>
    /// <param name="innerException">The original cause.</param>
    public WebSocketClosedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception that carries the close codes of both sides.</summary>
    /// <param name="message">One sentence that says why the connection is closed.</param>
    /// <param name="closeStatus">The close code that describes the end of the connection (1006 for a lost connection).</param>
    /// <param name="closeDescription">The reason that goes with <paramref name="closeStatus"/>.</param>
    /// <param name="closedByPeer">Whether the peer started the close.</param>
    /// <param name="innerException">The original cause, if any.</param>
    public WebSocketClosedException(
        string message,
        WebSocketCloseStatus? closeStatus,
        string? closeDescription,
        bool closedByPeer,
        Exception? innerException = null)
        : base(message, innerException)
    {
        CloseStatus = closeStatus;
        CloseDescription = closeDescription;
        ClosedByPeer = closedByPeer;
    }

    /// <summary>The close code that ended the connection: the peer's if it closed, ours if we did, 1006 if the connection was lost.</summary>
    public WebSocketCloseStatus? CloseStatus { get; }

    /// <summary>The reason that goes with <see cref="CloseStatus"/>, if any.</summary>
    public string? CloseDescription { get; }

    /// <summary>Whether the peer started the close (or dropped the connection).</summary>
    public bool ClosedByPeer { get; }
}
