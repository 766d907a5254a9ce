using Duplex.Protocol;

namespace Duplex.Fuzz;

/// <summary>
/// <c>utf8-validator</c>: a text message cut into pieces into the streaming
/// <see cref="Utf8Validator"/>. The first input byte seeds the cuts; the rest is the message.
/// </summary>
/// <remarks>
/// The streaming verdict must match the one-shot <see cref="System.Text.Unicode.Utf8.IsValid(ReadOnlySpan{byte})"/>,
/// and a failure must come with the first piece after which the bytes seen can no longer begin
/// valid UTF-8 (RFC 6455 §8.1: fail fast), never earlier.
/// </remarks>
internal static class Utf8ValidatorTarget
{
    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        ReadOnlySpan<byte> text = input.AsSpan(1);
        bool valid = System.Text.Unicode.Utf8.IsValid(text);
        int invalidFrom = InvalidPrefixLength(text);
        Check(text, Chunks.Whole(text.Length), valid, invalidFrom);
        Check(text, Chunks.ByteByByte(text.Length), valid, invalidFrom);
        Check(text, Chunks.Seeded(text.Length, input[0]), valid, invalidFrom);
    }

    /// <param name="text">The whole message.</param>
    /// <param name="pieces">How it is cut.</param>
    /// <param name="valid">Whether the whole message is valid UTF-8.</param>
    /// <param name="invalidFrom">The length of the shortest prefix that cannot begin valid UTF-8 (past the end when none).</param>
    private static void Check(ReadOnlySpan<byte> text, IEnumerable<(int Start, int Length)> pieces, bool valid, int invalidFrom)
    {
        var validator = default(Utf8Validator);
        List<(int Start, int Length)> list = [.. pieces];
        if (list.Count == 0)
        {
            Invariant.Check(validator.Append([], isFinal: true), "the empty message is refused");
            return;
        }

        for (int i = 0; i < list.Count; i++)
        {
            (int start, int length) = list[i];
            bool isFinal = i == list.Count - 1;
            bool ok = validator.Append(text.Slice(start, length), isFinal);
            int seen = start + length;
            bool expected = isFinal ? valid : seen < invalidFrom;
            Invariant.Check(ok == expected, $"piece {i} of {list.Count} (bytes {start}..{seen}) {(ok ? "accepted" : "refused")}");
            if (!ok)
            {
                return;
            }

            // Checked on short lists only: the one-shot check of every prefix is quadratic.
            if (list.Count <= 64)
            {
                Invariant.Check(validator.HasIncompleteSequence == !System.Text.Unicode.Utf8.IsValid(text[..seen]), $"incomplete sequence misreported after piece {i}");
            }
        }
    }

    /// <summary>Being a valid prefix is lost once and for all, so the first invalid one is found by bisection.</summary>
    private static int InvalidPrefixLength(ReadOnlySpan<byte> text)
    {
        if (IsValidPrefix(text))
        {
            return text.Length + 1;
        }

        int low = 1;
        int high = text.Length;
        while (low < high)
        {
            int middle = (low + high) / 2;
            if (IsValidPrefix(text[..middle]))
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

    /// <summary>Whether at most three more bytes can make <paramref name="prefix"/> valid UTF-8.</summary>
    private static bool IsValidPrefix(ReadOnlySpan<byte> prefix)
    {
        if (System.Text.Unicode.Utf8.IsValid(prefix))
        {
            return true;
        }

        // After the lead byte, a valid second byte is 80, 90 or A0 whatever the lead (E0 needs A0+,
        // F0 needs 90+, ED and F4 need at most 9F and 8F), and 80 always fits later.
        Span<byte> buffer = new byte[prefix.Length + 3];
        prefix.CopyTo(buffer);
        foreach (byte second in (byte[])[0x80, 0x90, 0xA0])
        {
            for (int extra = 1; extra <= 3; extra++)
            {
                buffer[prefix.Length] = second;
                buffer.Slice(prefix.Length + 1, extra - 1).Fill(0x80);
                if (System.Text.Unicode.Utf8.IsValid(buffer[..(prefix.Length + extra)]))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
