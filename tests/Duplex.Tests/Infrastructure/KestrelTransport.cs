namespace Duplex.Tests.Infrastructure;

/// <summary>How a <see cref="KestrelWebSocketHost"/> listens.</summary>
public enum KestrelTransport
{
    /// <summary>Cleartext HTTP/1.1 only: WebSockets by the RFC 6455 Upgrade handshake (<c>ws://</c>).</summary>
    Http11,

    /// <summary>
    /// Cleartext HTTP/2 only, by prior knowledge (h2c): WebSockets by extended CONNECT, RFC 8441 (<c>ws://</c>).
    /// </summary>
    Http2Cleartext,

    /// <summary>
    /// TLS with a self-signed certificate created in memory, HTTP/1.1 and HTTP/2 negotiated by ALPN (<c>wss://</c>).
    /// </summary>
    Tls,
}
