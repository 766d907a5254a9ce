using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace Duplex.Handshake.Rules;

/// <summary>
/// The <c>Sec-WebSocket-Key</c> nonce and the <c>Sec-WebSocket-Accept</c> value derived from it
/// (RFC 6455 §1.3, §4.1, §4.2.2). No I/O.
/// </summary>
internal static class WebSocketKey
{
    /// <summary>RFC 6455 §1.3: the GUID appended to the key before hashing.</summary>
    public const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>RFC 6455 §4.1: a nonce of 16 random bytes, base64-encoded (24 characters).</summary>
    public static string Create()
    {
        Span<byte> nonce = stackalloc byte[16];
        RandomNumberGenerator.Fill(nonce);
        return Convert.ToBase64String(nonce);
    }

    /// <summary>RFC 6455 §4.2.2: base64(SHA-1(key + GUID)), the value the server must return in <c>Sec-WebSocket-Accept</c>.</summary>
    public static string ComputeAccept(string key)
    {
        ArgumentNullException.ThrowIfNull(key);

        // key (24 ASCII chars) + GUID (36) fits on the stack; a longer key only happens in tests.
        int length = key.Length + AcceptGuid.Length;
        byte[]? rented = null;
        Span<byte> input = length <= 128 ? stackalloc byte[128] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            int written = Encoding.ASCII.GetBytes(key, input);
            written += Encoding.ASCII.GetBytes(AcceptGuid, input[written..]);
            Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
#pragma warning disable CA5350 // RFC 6455 §4.2.2 mandates SHA-1; it is a checksum here, not a security primitive.
            SHA1.HashData(input[..written], hash);
#pragma warning restore CA5350
            return Convert.ToBase64String(hash);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
