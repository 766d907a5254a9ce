using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace Duplex.Diagnostics;

internal static partial class Log
{
    [LoggerMessage(EventId = 200, EventName = "ConnectionOpened", Level = LogLevel.Debug,
        Message = "WebSocket connection open (subprotocol {SubProtocol}).")]
    public static partial void ConnectionOpened(ILogger logger, string subProtocol);

    [LoggerMessage(EventId = 201, EventName = "ConnectionClosed", Level = LogLevel.Debug,
        Message = "WebSocket connection closed: local status {LocalStatus}, remote status {RemoteStatus} (reason: {RemoteDescription}).")]
    public static partial void ConnectionClosed(ILogger logger, string localStatus, string remoteStatus, string remoteDescription);

    [LoggerMessage(EventId = 202, EventName = "ProtocolViolation", Level = LogLevel.Warning,
        Message = "The peer violated the WebSocket protocol; failing the connection with {CloseStatus}: {Violation}")]
    public static partial void ProtocolViolation(ILogger logger, WebSocketCloseStatus closeStatus, string violation);

    [LoggerMessage(EventId = 203, EventName = "ConnectionLost", Level = LogLevel.Warning,
        Message = "The WebSocket connection was lost without a closing handshake.")]
    public static partial void ConnectionLost(ILogger logger, Exception? exception);

    [LoggerMessage(EventId = 204, EventName = "KeepAliveTimeout", Level = LogLevel.Warning,
        Message = "No Pong within the keepalive timeout of {Timeout}; failing the connection with 1011.")]
    public static partial void KeepAliveTimeout(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 205, EventName = "CloseTimeout", Level = LogLevel.Debug,
        Message = "The closing handshake did not finish within {Timeout}; closing the socket.")]
    public static partial void CloseTimeout(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 206, EventName = "SendFailed", Level = LogLevel.Debug,
        Message = "Writing to the WebSocket connection failed.")]
    public static partial void SendFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 208, EventName = "ReceiveThreadTakenOver", Level = LogLevel.Debug,
        Message = "Code running on the connection's receive thread kept it for over {Threshold}; a new thread reads the socket from now on.")]
    public static partial void ReceiveThreadTakenOver(ILogger logger, TimeSpan threshold);

    [LoggerMessage(EventId = 207, EventName = "PingReceived", Level = LogLevel.Trace,
        Message = "Ping received with {Length} payload bytes; answering with a Pong.")]
    public static partial void PingReceived(ILogger logger, int length);
}
