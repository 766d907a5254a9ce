using CsCheck;

namespace Duplex.Tests.Protocol;

/// <summary>
/// How a byte stream is cut into the pieces a decoder is fed: chunk sizes used in turn, starting
/// over when the list runs out.
/// </summary>
internal static class Chunking
{
    /// <summary>The stream in one piece.</summary>
    public static readonly int[] Whole = [int.MaxValue];

    /// <summary>One byte per call.</summary>
    public static readonly int[] ByteByByte = [1];

    /// <summary>Random chunk sizes, mostly small so that headers and sequences get split.</summary>
    public static readonly Gen<int[]> Random =
        Gen.Frequency((4, Gen.Int[1, 16]), (2, Gen.Int[17, 300]), (1, Gen.Int[301, 70_000])).Array[1, 24];

    /// <summary>Cuts <paramref name="length"/> bytes into consecutive (start, length) pieces.</summary>
    public static IEnumerable<(int Start, int Length)> Pieces(int length, int[] sizes)
    {
        int start = 0;
        int next = 0;
        while (start < length)
        {
            int size = Math.Min(sizes[next], length - start);
            next = (next + 1) % sizes.Length;
            yield return (start, size);
            start += size;
        }
    }

    /// <summary>Cuts <paramref name="length"/> bytes at the given indices (any order, duplicates allowed, each in 0..length).</summary>
    public static List<(int Start, int Length)> AtCuts(int length, IEnumerable<int> cuts)
    {
        var points = cuts.Append(0).Append(length).Order().ToList();
        var pieces = new List<(int Start, int Length)>(points.Count - 1);
        for (int i = 1; i < points.Count; i++)
        {
            pieces.Add((points[i - 1], points[i] - points[i - 1]));
        }

        return pieces;
    }
}
