using System.Net.WebSockets;
using Microsoft.Extensions.Logging;

namespace Duplex.Diagnostics;

internal static partial class Log
{
    [LoggerMessage(EventId = 300, EventName = "ClientConnecting", Level = LogLevel.Information,
        Message = "Connecting to {Uri} (attempt {Attempt}).")]
    public static partial void ClientConnecting(ILogger logger, string uri, int attempt);

    [LoggerMessage(EventId = 301, EventName = "ClientConnected", Level = LogLevel.Information,
        Message = "Connected to {Uri} over HTTP/{HttpVersion} (reconnect: {IsReconnect}, subprotocol: {SubProtocol}).")]
    public static partial void ClientConnected(ILogger logger, string uri, Version httpVersion, bool isReconnect, string? subProtocol);

    /// <summary>One line per failed attempt, with its cause; the stack trace is <see cref="ClientConnectFailedDetail"/>'s, at Debug.</summary>
    [LoggerMessage(EventId = 302, EventName = "ClientConnectFailed", Level = LogLevel.Warning,
        Message = "Connecting to {Uri} failed ({Error}): {Reason}")]
    public static partial void ClientConnectFailed(ILogger logger, string uri, string error, string reason);

    [LoggerMessage(EventId = 312, EventName = "ClientConnectFailedDetail", Level = LogLevel.Debug,
        Message = "Connecting to {Uri} failed ({Error}); the exception follows.")]
    public static partial void ClientConnectFailedDetail(ILogger logger, string uri, string error, Exception exception);

    [LoggerMessage(EventId = 303, EventName = "ClientDisconnected",
        Message = "Disconnected from {Uri}: close status {CloseStatus} (reason: {CloseDescription}); reconnecting: {WillReconnect}.")]
    public static partial void ClientDisconnected(ILogger logger, LogLevel level, string uri, string closeStatus, string closeDescription, bool willReconnect, Exception? exception);

    [LoggerMessage(EventId = 304, EventName = "ReconnectScheduled", Level = LogLevel.Information,
        Message = "Reconnect attempt {Attempt} in {Delay}.")]
    public static partial void ReconnectScheduled(ILogger logger, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = 305, EventName = "ReconnectGivenUp", Level = LogLevel.Error,
        Message = "Gave up reconnecting to {Uri}: {Reason}")]
    public static partial void ReconnectGivenUp(ILogger logger, string uri, string reason);

    [LoggerMessage(EventId = 306, EventName = "HandlerFailed", Level = LogLevel.Error,
        Message = "A {Event} handler threw; the client carries on.")]
    public static partial void HandlerFailed(ILogger logger, string @event, Exception exception);

    [LoggerMessage(EventId = 307, EventName = "MessageDropped", Level = LogLevel.Warning,
        Message = "A queued {MessageType} message of {Length} bytes was not sent: {Reason}")]
    public static partial void MessageDropped(ILogger logger, WebSocketMessageType messageType, int length, string reason);

    [LoggerMessage(EventId = 308, EventName = "ClientClosed", Level = LogLevel.Information,
        Message = "Closed the connection to {Uri} with {CloseStatus}.")]
    public static partial void ClientClosed(ILogger logger, string uri, int closeStatus);

    [LoggerMessage(EventId = 309, EventName = "HandshakeHeader", Level = LogLevel.Debug,
        Message = "Handshake header {Name}: {Value}")]
    public static partial void HandshakeHeader(ILogger logger, string name, string value);

    [LoggerMessage(EventId = 310, EventName = "SilenceTimeout", Level = LogLevel.Warning,
        Message = "Nothing received for {Timeout}; replacing the connection.")]
    public static partial void SilenceTimeout(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 311, EventName = "MessageReceived", Level = LogLevel.Trace,
        Message = "Received a {MessageType} message: {Payload}")]
    public static partial void MessageReceived(ILogger logger, WebSocketMessageType messageType, string payload);

    /// <summary>Once per delivery, while it still runs: a handler that never returns is reported too.</summary>
    [LoggerMessage(EventId = 313, EventName = "SlowMessageHandler", Level = LogLevel.Warning,
        Message = "A message's handlers and readers have been running for {Elapsed} (threshold {Threshold}); later messages wait behind it.")]
    public static partial void SlowMessageHandler(ILogger logger, TimeSpan elapsed, TimeSpan threshold);

    [LoggerMessage(EventId = 314, EventName = "SlowMessageHandlerReturned", Level = LogLevel.Warning,
        Message = "A message's handlers and readers took {Duration} (threshold {Threshold}).")]
    public static partial void SlowMessageHandlerReturned(ILogger logger, TimeSpan duration, TimeSpan threshold);

    [LoggerMessage(EventId = 315, EventName = "ConnectRetryScheduled", Level = LogLevel.Information,
        Message = "First connect attempt {Attempt} in {Delay}.")]
    public static partial void ConnectRetryScheduled(ILogger logger, int attempt, TimeSpan delay);

    [LoggerMessage(EventId = 316, EventName = "ConnectGivenUp", Level = LogLevel.Error,
        Message = "Gave up connecting to {Uri}: {Reason}")]
    public static partial void ConnectGivenUp(ILogger logger, string uri, string reason);
}
