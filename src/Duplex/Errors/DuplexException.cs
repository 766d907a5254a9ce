namespace Duplex;

/// <summary>
/// The common base of every error that Duplex raises about a WebSocket connection: a failed connect,
/// a rejected handshake, a protocol violation by the peer, or a connection that closed.
/// </summary>
/// <remarks>
/// Usage errors are reported with the BCL's own exceptions (<see cref="ArgumentException"/>,
/// <see cref="InvalidOperationException"/>, <see cref="ObjectDisposedException"/>), and cancellation
/// always surfaces as <see cref="OperationCanceledException"/>, never wrapped in this type.
/// </remarks>
public class DuplexException : Exception
{
    /// <summary>Creates an exception with a default message.</summary>
    public DuplexException()
        : base("A WebSocket operation failed.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">One sentence that says what failed.</param>
    public DuplexException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and the error that caused it.</summary>
    /// <param name="message">One sentence that says what failed.</param>
    /// <param name="innerException">The original cause.</param>
    public DuplexException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
