using System.Text;

namespace Duplex.Benchmarks.Micro;

/// <summary>Valid UTF-8 test payloads of an exact byte size.</summary>
public static class Utf8Payloads
{
    /// <summary>ASCII text.</summary>
    public static byte[] Ascii(int size)
    {
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++)
        {
            bytes[i] = (byte)(' ' + (i % 95));
        }

        return bytes;
    }

    /// <summary>
    /// Mostly 2-, 3- and 4-byte sequences (Latin, Greek, CJK, emoji) with little ASCII, padded with
    /// ASCII at the end to the exact size; sequences straddle 1 KiB boundaries.
    /// </summary>
    public static byte[] Multibyte(int size)
    {
        const string Sample = "héllo wörld ✓ Ελληνικά 日本語テキスト 🎉🚀 ñandú ≠ ∞ 한국어 ";
        var text = new StringBuilder();
        int byteCount = 0;
        while (true)
        {
            foreach (Rune rune in Sample.EnumerateRunes())
            {
                if (byteCount + rune.Utf8SequenceLength > size)
                {
                    text.Append('.', size - byteCount);
                    byte[] result = Encoding.UTF8.GetBytes(text.ToString());
                    return result.Length == size ? result : throw new InvalidOperationException("Payload size mismatch.");
                }

                text.Append(rune.ToString());
                byteCount += rune.Utf8SequenceLength;
            }
        }
    }
}
