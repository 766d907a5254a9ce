namespace Duplex.Tests.Infrastructure;

/// <summary>A Close frame read by <see cref="RawConnection.ReadCloseFrameAsync"/>, with its payload parsed.</summary>
/// <param name="Code">The status code (RFC 6455 §5.5.1), or <see langword="null"/> when the payload has fewer than 2 bytes.</param>
/// <param name="Reason">The reason text decoded as UTF-8 (lenient), empty when absent.</param>
/// <param name="Frame">The frame itself, for byte-exact assertions.</param>
public sealed record RawCloseFrame(ushort? Code, string Reason, RawFrame Frame);
