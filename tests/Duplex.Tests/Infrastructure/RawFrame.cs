using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// One WebSocket frame as read off the wire by <see cref="RawConnection.ReadFrameAsync"/>.
/// </summary>
/// <param name="Fin">The FIN bit.</param>
/// <param name="Rsv">The RSV1–RSV3 bits in place, as in the first header byte (RSV1 = 0x40, RSV2 = 0x20, RSV3 = 0x10).</param>
/// <param name="Opcode">The 4-bit opcode.</param>
/// <param name="Masked">Whether the MASK bit was set.</param>
/// <param name="Payload">The payload, already unmasked.</param>
public sealed record RawFrame(bool Fin, byte Rsv, byte Opcode, bool Masked, byte[] Payload)
{
    /// <summary>The 4-byte masking key when <see cref="Masked"/>, otherwise <see langword="null"/>.</summary>
    public byte[]? MaskKey { get; init; }

    /// <summary>The payload as it appeared on the wire (still masked when <see cref="Masked"/>).</summary>
    public byte[] WirePayload { get; init; } = [];

    /// <summary>The payload decoded as UTF-8 (invalid sequences become U+FFFD).</summary>
    public string Text => Encoding.UTF8.GetString(Payload);
}
