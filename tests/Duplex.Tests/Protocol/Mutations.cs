using CsCheck;

namespace Duplex.Tests.Protocol;

/// <summary>
/// Near-valid inputs: valid bytes with a few bytes flipped, overwritten, inserted, deleted or
/// repeated, which reach the checks behind the first one far more often than random bytes do.
/// </summary>
internal static class Mutations
{
    /// <summary>Inputs made from the first <paramref name="maxLength"/> bytes of <paramref name="valid"/> by one to four edits.</summary>
    public static Gen<byte[]> Of(Gen<byte[]> valid, int maxLength) =>
        from input in valid.Select(v => v.AsSpan(0, Math.Min(v.Length, maxLength)).ToArray())
        from edits in Gen.Select(Gen.Int[0, 4], Gen.Int[0, int.MaxValue], Gen.Byte).Array[1, 4]
        select Apply(input, edits);

    private static byte[] Apply(byte[] input, (int Kind, int Where, byte Value)[] edits)
    {
        var bytes = new List<byte>(input);
        foreach ((int kind, int where, byte value) in edits)
        {
            int at = bytes.Count == 0 ? 0 : where % bytes.Count;
            switch (kind)
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << (value % 8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = value;
                    break;
                case 2:
                    bytes.Insert(at, value);
                    break;
                case 3 when bytes.Count > 0:
                    bytes.RemoveRange(at, Math.Min((value % 16) + 1, bytes.Count - at));
                    break;
                case 4 when bytes.Count > 0:
                    bytes.InsertRange(at, bytes.GetRange(at, Math.Min((value % 16) + 1, bytes.Count - at)));
                    break;
            }
        }

        return [.. bytes];
    }
}
