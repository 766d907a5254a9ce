namespace Duplex;

/// <summary>
/// A queued message was not sent: the outbox dropped it to make room for a newer one, or the client
/// closed (or gave up reconnecting) before a connection could take it.
/// </summary>
public sealed class WebSocketMessageDroppedException : DuplexException
{
    /// <summary>Creates an exception with a default message.</summary>
    public WebSocketMessageDroppedException()
        : base("The message was dropped before it could be sent.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">One sentence that says why the message was not sent.</param>
    public WebSocketMessageDroppedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">One sentence that says why the message was not sent.</param>
    /// <param name="innerException">The original cause.</param>
    public WebSocketMessageDroppedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
