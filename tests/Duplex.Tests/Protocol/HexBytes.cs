namespace Duplex.Tests.Protocol;

/// <summary>Test vectors written as hex, with spaces allowed between bytes for readability.</summary>
internal static class HexBytes
{
    /// <summary>Parses "81 05 48 65" (spaces optional) into bytes.</summary>
    public static byte[] Parse(string hex) => Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));

    /// <summary>Lower-case hex without separators, for readable assertion messages.</summary>
    public static string Format(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);
}
