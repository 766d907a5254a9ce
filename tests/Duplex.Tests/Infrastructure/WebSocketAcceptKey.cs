using System.Security.Cryptography;
using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>The opening-handshake key arithmetic of RFC 6455 §4.2.2, computed independently of the library.</summary>
public static class WebSocketAcceptKey
{
    /// <summary>The GUID RFC 6455 §1.3 appends to the client's key.</summary>
    public const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>
    /// Computes <c>Sec-WebSocket-Accept</c> for a <c>Sec-WebSocket-Key</c>: base64(SHA-1(key + GUID)).
    /// </summary>
    public static string Compute(string secWebSocketKey)
    {
        ArgumentNullException.ThrowIfNull(secWebSocketKey);
        var hash = SHA1.HashData(Encoding.ASCII.GetBytes(secWebSocketKey.Trim() + Guid));
        return Convert.ToBase64String(hash);
    }

    /// <summary>Creates a fresh random client key: base64 of 16 random bytes (RFC 6455 §4.1).</summary>
    public static string CreateClientKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
}
