using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public sealed class MaskKeySourceTests
{
    [Fact]
    public void MaskKeySource_Next_ThousandKeysAreNearlyAllDistinct()
    {
        var source = new MaskKeySource();

        int[] keys = Enumerable.Range(0, 1000).Select(_ => source.Next()).ToArray();

        // 1000 random 32-bit keys collide with probability about 1e-4; a fixed, counting or
        // short-cycle source (the generator refills every 64 keys) would fail by far.
        Assert.True(keys.Distinct().Count() >= 998, $"{keys.Distinct().Count()} distinct keys of 1000");
    }

    [Fact]
    public void MaskKeySource_Next_EveryKeyByteVaries()
    {
        var source = new MaskKeySource();
        var seen = new HashSet<byte>[4];
        for (int i = 0; i < seen.Length; i++)
        {
            seen[i] = [];
        }

        for (int n = 0; n < 1000; n++)
        {
            int key = source.Next();
            for (int i = 0; i < 4; i++)
            {
                seen[i].Add((byte)(key >> (i * 8)));
            }
        }

        // About 251 of 256 values are expected for each byte.
        Assert.All(seen, values => Assert.True(values.Count >= 200, $"{values.Count} distinct values"));
    }

    [Fact]
    public void MaskKeySource_TwoSources_DoNotRepeatEachOther()
    {
        var first = new MaskKeySource();
        var second = new MaskKeySource();

        int[] a = Enumerable.Range(0, 100).Select(_ => first.Next()).ToArray();
        int[] b = Enumerable.Range(0, 100).Select(_ => second.Next()).ToArray();

        Assert.True(a.Intersect(b).Count() <= 1);
    }
}
