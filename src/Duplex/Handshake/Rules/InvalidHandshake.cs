namespace Duplex.Handshake.Rules;

/// <summary>The error every broken handshake rule raises.</summary>
internal static class InvalidHandshake
{
    /// <summary>A failed handshake rule, as <see cref="WebSocketConnectError.InvalidHandshake"/>.</summary>
    public static WebSocketConnectException Create(string message, Exception? innerException = null) =>
        new(WebSocketConnectError.InvalidHandshake, message, innerException);
}
