using System.Net.WebSockets;

namespace Duplex;

/// <summary>
/// The peer broke RFC 6455 (or a configured limit such as the maximum message size); Duplex failed the
/// connection and sent the close code given in <see cref="CloseStatus"/>.
/// </summary>
public sealed class WebSocketProtocolException : DuplexException
{
    /// <summary>Creates an exception with a default message.</summary>
    public WebSocketProtocolException()
        : this(WebSocketCloseStatus.ProtocolError, "The peer violated the WebSocket protocol.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">One sentence that says which rule was broken.</param>
    public WebSocketProtocolException(string message)
        : this(WebSocketCloseStatus.ProtocolError, message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">One sentence that says which rule was broken.</param>
    /// <param name="innerException">The original cause.</param>
    public WebSocketProtocolException(string message, Exception? innerException)
        : base(message, innerException)
    {
        CloseStatus = WebSocketCloseStatus.ProtocolError;
    }

    /// <summary>Creates an exception for a violation answered with the given close code.</summary>
    /// <param name="closeStatus">The close code Duplex sent to the peer.</param>
    /// <param name="message">One sentence that says which rule was broken.</param>
    public WebSocketProtocolException(WebSocketCloseStatus closeStatus, string message)
        : base(message)
    {
        CloseStatus = closeStatus;
    }

    /// <summary>The close code Duplex sent to the peer (1002 protocol error, 1007 invalid data, 1009 too big…).</summary>
    public WebSocketCloseStatus CloseStatus { get; }
}
