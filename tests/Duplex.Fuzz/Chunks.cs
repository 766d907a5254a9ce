namespace Duplex.Fuzz;

/// <summary>
/// How an input is cut into the reads a parser is fed: whole, byte by byte, or in pieces of 1 to
/// 32 bytes drawn from a small generator seeded by the input itself, so a crash replays exactly.
/// </summary>
internal static class Chunks
{
    public static IEnumerable<(int Start, int Length)> Whole(int length)
    {
        if (length > 0)
        {
            yield return (0, length);
        }
    }

    public static IEnumerable<(int Start, int Length)> ByteByByte(int length)
    {
        for (int i = 0; i < length; i++)
        {
            yield return (i, 1);
        }
    }

    public static IEnumerable<(int Start, int Length)> Seeded(int length, uint seed)
    {
        // xorshift32; any seed but 0 works, and 0 must not get stuck.
        uint state = seed * 2654435761u | 1;
        for (int start = 0; start < length;)
        {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            int size = Math.Min((int)(state % 32) + 1, length - start);
            yield return (start, size);
            start += size;
        }
    }
}
