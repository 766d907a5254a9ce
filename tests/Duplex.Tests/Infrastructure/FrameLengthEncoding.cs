namespace Duplex.Tests.Infrastructure;

/// <summary>
/// Which payload-length form <see cref="RawConnection.Frame"/> writes (RFC 6455 §5.2). Anything but
/// <see cref="Minimal"/> lets a hostile test use a longer form than the minimal one.
/// </summary>
public enum FrameLengthEncoding
{
    /// <summary>The shortest form that fits, as RFC 6455 requires.</summary>
    Minimal = 0,

    /// <summary>The 7-bit length in the second byte (payloads up to 125 bytes).</summary>
    SevenBit = 7,

    /// <summary>The 126 marker followed by a 16-bit length.</summary>
    SixteenBit = 16,

    /// <summary>The 127 marker followed by a 64-bit length.</summary>
    SixtyFourBit = 64,
}
