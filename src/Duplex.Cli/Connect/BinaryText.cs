namespace Duplex.Cli.Connect;

/// <summary>Reads and writes bytes as hex or base64 text.</summary>
internal static class BinaryText
{
    public static bool TryDecode(string text, BinaryFormat format, out byte[] bytes)
    {
        bytes = [];
        try
        {
            if (format == BinaryFormat.Hex)
            {
                string digits = string.Concat(text.Where(c => !char.IsWhiteSpace(c) && c is not (':' or '-')));
                if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                {
                    digits = digits[2..];
                }

                bytes = Convert.FromHexString(digits);
            }
            else
            {
                string trimmed = text.Trim();
                int padding = (4 - (trimmed.Length % 4)) % 4;
                bytes = Convert.FromBase64String(trimmed + new string('=', padding == 3 ? 0 : padding));
            }

            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>The bytes as text, the first <paramref name="limit"/> of them, with the count of the rest.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes, BinaryFormat format, int limit = 256)
    {
        ReadOnlySpan<byte> shown = bytes.Length > limit ? bytes[..limit] : bytes;
        string text = format == BinaryFormat.Hex ? Convert.ToHexString(shown).ToLowerInvariant() : Convert.ToBase64String(shown);
        return bytes.Length > limit ? $"{text}… (+{bytes.Length - limit} bytes)" : text;
    }
}
