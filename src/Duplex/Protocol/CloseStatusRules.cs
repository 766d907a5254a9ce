using System.Buffers.Binary;
using System.Net.WebSockets;
using System.Text;

namespace Duplex.Protocol;

/// <summary>
/// The rules for Close frame payloads (RFC 6455 §5.5.1, §7.4): which status codes may travel on
/// the wire, and how code and reason are encoded.
/// </summary>
internal static class CloseStatusRules
{
    /// <summary>RFC 6455 §5.5: 125 payload bytes less the two of the status code.</summary>
    public const int MaxReasonBytes = FrameHeader.MaxControlPayload - 2;

    /// <summary>
    /// RFC 6455 §7.4.1–§7.4.2 and the IANA registry: 1000–1003 and 1007–1014 are defined; 1004 is
    /// reserved; 1005, 1006 and 1015 must never be sent; 0–999 and 1016–2999 are not used;
    /// 3000–3999 are registered by libraries and frameworks, 4000–4999 private.
    /// </summary>
    public static bool IsValidOnWire(int code) =>
        code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);

    /// <summary>
    /// Parses a received Close payload. An empty payload means "no status" (1005, reported as null).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> payload, out WebSocketCloseStatus? status, out string? reason, out ProtocolViolation violation)
    {
        status = null;
        reason = null;
        violation = default;
        if (payload.Length == 0)
        {
            return true;
        }

        // RFC 6455 §5.5.1: a body, if present, starts with a two-byte code.
        if (payload.Length == 1)
        {
            violation = ProtocolViolation.Protocol("A Close frame carried a one-byte payload.");
            return false;
        }

        int code = BinaryPrimitives.ReadUInt16BigEndian(payload);
        if (!IsValidOnWire(code))
        {
            violation = ProtocolViolation.Protocol($"A Close frame carried status code {code}, which is not valid on the wire.");
            return false;
        }

        ReadOnlySpan<byte> text = payload.Slice(2);

        // RFC 6455 §5.5.1: the reason "MUST be" UTF-8; §8.1 makes invalid data fail with 1007.
        if (!System.Text.Unicode.Utf8.IsValid(text))
        {
            violation = ProtocolViolation.InvalidData("A Close frame carried a reason that is not valid UTF-8.");
            return false;
        }

        status = (WebSocketCloseStatus)code;
        reason = Encoding.UTF8.GetString(text);
        return true;
    }

    /// <summary>
    /// Checks a status and reason the application wants to send; throws <see cref="ArgumentException"/>
    /// naming the parameter when they cannot go on the wire.
    /// </summary>
    public static void ValidateOutgoing(WebSocketCloseStatus status, string? reason, string statusParameter, string reasonParameter)
    {
        if (!IsValidOnWire((int)status))
        {
            throw new ArgumentOutOfRangeException(statusParameter, (int)status, "The close status must be 1000–1003, 1007–1014 or 3000–4999.");
        }

        if (reason is not null && Encoding.UTF8.GetByteCount(reason) > MaxReasonBytes)
        {
            throw new ArgumentException($"The close reason must encode to at most {MaxReasonBytes} UTF-8 bytes.", reasonParameter);
        }
    }

    /// <summary>Writes a Close payload (code and reason) and returns its length.</summary>
    public static int Write(Span<byte> destination, WebSocketCloseStatus status, string? reason)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)status);
        int length = 2;
        if (!string.IsNullOrEmpty(reason))
        {
            length += Encoding.UTF8.GetBytes(reason, destination.Slice(2));
        }

        return length;
    }
}
