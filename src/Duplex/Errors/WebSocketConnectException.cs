using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

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

    /// <summary>
    /// When <see cref="Error"/> is <see cref="WebSocketConnectError.Tls"/>: the main reason the server
    /// certificate was refused, or <see cref="WebSocketTlsFailure.Other"/> when the handshake failed
    /// before or apart from the certificate; null for other errors.
    /// </summary>
    public WebSocketTlsFailure? TlsFailure { get; init; }

    /// <summary>
    /// When <see cref="Error"/> is <see cref="WebSocketConnectError.Proxy"/> and the proxy answered the
    /// tunnel request: its HTTP status (407 when it wants credentials, 403 when it refuses the target);
    /// null otherwise.
    /// </summary>
    public int? ProxyStatusCode { get; init; }

    /// <summary>What the default certificate validation found (all of it, also when <see cref="TlsFailure"/> names one); <see cref="SslPolicyErrors.None"/> when unknown.</summary>
    public SslPolicyErrors CertificateErrors { get; init; }

    /// <summary>The certificate chain's problems, every element's together; <see cref="X509ChainStatusFlags.NoError"/> when none or unknown.</summary>
    public X509ChainStatusFlags CertificateChainStatus { get; init; }
}
