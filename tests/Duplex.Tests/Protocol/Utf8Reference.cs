using System.Text;
using System.Text.Unicode;
using CsCheck;

namespace Duplex.Tests.Protocol;

/// <summary>
/// Reference answers for streaming UTF-8 validation, derived from the one-shot
/// <see cref="Utf8.IsValid(ReadOnlySpan{byte})"/> alone, plus generators of text and near-text.
/// </summary>
internal static class Utf8Reference
{
    // Completing any valid incomplete sequence needs at most three more bytes: the second byte of
    // a sequence is A0 after E0, 90 after F0 and 80 after any other lead (Unicode Table 3-7), and
    // 80 always fits as a later continuation byte.
    private static readonly byte[] s_secondBytes = [0x80, 0x90, 0xA0];

    /// <summary>Whether some bytes can follow <paramref name="prefix"/> to make valid UTF-8.</summary>
    public static bool IsValidPrefix(ReadOnlySpan<byte> prefix)
    {
        if (Utf8.IsValid(prefix))
        {
            return true;
        }

        byte[] buffer = new byte[prefix.Length + 3];
        prefix.CopyTo(buffer);
        for (int extra = 1; extra <= 3; extra++)
        {
            foreach (byte second in s_secondBytes)
            {
                buffer[prefix.Length] = second;
                buffer.AsSpan(prefix.Length + 1, extra - 1).Fill(0x80);
                if (Utf8.IsValid(buffer.AsSpan(0, prefix.Length + extra)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// The index of the first byte with which <paramref name="data"/> stops being a prefix of
    /// valid UTF-8, or -1 when every prefix is (the data is valid or merely ends early).
    /// </summary>
    public static int FirstInvalidIndex(ReadOnlySpan<byte> data)
    {
        // Being a valid prefix is monotone: once lost it never comes back.
        if (IsValidPrefix(data))
        {
            return -1;
        }

        int low = 0;
        int high = data.Length - 1;
        while (low < high)
        {
            int middle = (low + high) / 2;
            if (IsValidPrefix(data[..(middle + 1)]))
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    /// <summary>Scalar values from every encoded length, weighted towards the boundaries.</summary>
    public static readonly Gen<Rune> Runes = Gen.Frequency(
        (4, Gen.Int[0, 0x7F]),
        (2, Gen.Int[0x80, 0x7FF]),
        (2, Gen.Int[0x800, 0xD7FF]),
        (1, Gen.Int[0xE000, 0xFFFF]),
        (2, Gen.Int[0x10000, 0x10FFFF]),
        (1, Gen.OneOfConst(0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF)))
        .Select(value => new Rune(value));

    /// <summary>Valid UTF-8 made from <see cref="Runes"/>.</summary>
    public static readonly Gen<byte[]> ValidText = Runes.Array[0, 120].Select(Encode);

    /// <summary>
    /// Bytes that are often nearly UTF-8: encoded scalars mixed with truncated sequences, stray
    /// continuation bytes, bytes that never occur, overlong and surrogate leads, and random bytes.
    /// </summary>
    public static readonly Gen<byte[]> NearText = Gen.Frequency(
        (8, Runes.Select(rune => Encode([rune]))),
        (2, Runes.Select(rune =>
        {
            byte[] bytes = Encode([rune]);
            return bytes.AsSpan(0, Math.Max(1, bytes.Length - 1)).ToArray();
        })),
        (2, Gen.OneOfConst<byte>(0x80, 0xBF, 0xC0, 0xC1, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF).Select(b => new[] { b })),
        (1, Gen.OneOfConst("E0 80", "E0 9F", "ED A0", "ED BF", "F0 80", "F0 8F", "F4 90", "C0 AF").Select(HexBytes.Parse)),
        (1, Gen.Byte.Array[1, 4]))
        .Array[0, 40]
        .Select(parts => parts.SelectMany(part => part).ToArray());

    public static byte[] Encode(Rune[] runes)
    {
        var text = new StringBuilder();
        foreach (Rune rune in runes)
        {
            text.Append(rune.ToString());
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
