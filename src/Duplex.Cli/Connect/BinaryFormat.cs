namespace Duplex.Cli.Connect;

/// <summary>How binary messages are typed in and printed.</summary>
internal enum BinaryFormat
{
    /// <summary>Hexadecimal digits; spaces, colons and dashes between bytes are ignored.</summary>
    Hex,

    /// <summary>Base64 (standard alphabet, padding optional).</summary>
    Base64,
}
