namespace Duplex;

/// <summary>Why an attempt to open a WebSocket connection failed.</summary>
public enum WebSocketConnectError
{
    /// <summary>The cause could not be classified; see the inner exception.</summary>
    Unknown = 0,

    /// <summary>The host name could not be resolved (DNS).</summary>
    NameResolution,

    /// <summary>The server actively refused the TCP connection.</summary>
    ConnectionRefused,

    /// <summary>The TLS handshake failed, for example because the server certificate was not trusted.</summary>
    Tls,

    /// <summary>The opening handshake did not complete within the open timeout.</summary>
    Timeout,

    /// <summary>The proxy could not be reached or refused to open a tunnel.</summary>
    Proxy,

    /// <summary>The server answered the upgrade request with an HTTP status other than the expected one.</summary>
    HandshakeRejected,

    /// <summary>The server's answer broke the WebSocket opening handshake rules (RFC 6455 §4.2.2).</summary>
    InvalidHandshake,

    /// <summary>The network failed while the handshake was in progress.</summary>
    Network,

    /// <summary>The server redirected more times than the configured limit allows.</summary>
    TooManyRedirects,
}
