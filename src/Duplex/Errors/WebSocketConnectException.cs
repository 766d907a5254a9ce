namespace Duplex;

/// <summary>An attempt to open a WebSocket connection failed; <see cref="Error"/> says why.</summary>
public class WebSocketConnectException : DuplexException
{
    /// <summary>Creates an exception with a default message.</summary>
    public WebSocketConnectException()
        : base("The WebSocket connection could not be opened.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">One sentence that says what failed.</param>
    public WebSocketConnectException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">One sentence that says what failed.</param>
    /// <param name="innerException">The original cause.</param>
    public WebSocketConnectException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for a classified connect failure.</summary>
    /// <param name="error">Why the connect failed.</param>
    /// <param name="message">One sentence that says what failed.</param>
    /// <param name="innerException">The original cause, if any.</param>
    public WebSocketConnectException(WebSocketConnectError error, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
    }

    /// <summary>Why the connect failed.</summary>
    public WebSocketConnectError Error { get; }
}
