namespace Duplex;

/// <summary>
/// A send was refused because the client's outbox (messages waiting for a connection) is full and
/// its overflow policy is to fail. Nothing was queued.
/// </summary>
public sealed class WebSocketOutboxFullException : DuplexException
{
    /// <summary>Creates an exception with a default message.</summary>
    public WebSocketOutboxFullException()
        : base("The outbox is full; the message was not queued.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">One sentence that says what failed.</param>
    public WebSocketOutboxFullException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">One sentence that says what failed.</param>
    /// <param name="innerException">The original cause.</param>
    public WebSocketOutboxFullException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
