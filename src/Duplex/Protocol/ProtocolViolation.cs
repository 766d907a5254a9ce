using System.Net.WebSockets;

namespace Duplex.Protocol;

/// <summary>
/// A rule the peer broke, with the close code RFC 6455 §7.4.1 says to fail the connection with.
/// The protocol layer returns these instead of throwing, so bad input can never escape as an
/// unexpected exception.
/// </summary>
internal readonly record struct ProtocolViolation(WebSocketCloseStatus CloseStatus, string Message)
{
    /// <summary>RFC 6455 §7.4.1 code 1002.</summary>
    public static ProtocolViolation Protocol(string message) => new(WebSocketCloseStatus.ProtocolError, message);

    /// <summary>RFC 6455 §7.4.1 code 1007: data inconsistent with the message type (bad UTF-8).</summary>
    public static ProtocolViolation InvalidData(string message) => new(WebSocketCloseStatus.InvalidPayloadData, message);

    /// <summary>RFC 6455 §7.4.1 code 1009: a message too big to process.</summary>
    public static ProtocolViolation TooBig(string message) => new(WebSocketCloseStatus.MessageTooBig, message);

    /// <summary>The exception that reports this violation to the application.</summary>
    public WebSocketProtocolException ToException() => new(CloseStatus, Message);
}
