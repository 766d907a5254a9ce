using System.Buffers.Binary;
using System.Text;
using CsCheck;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public sealed class PayloadMaskTests
{
    private const int SmallLengths = 300;

    private static readonly int[] s_keys = [0, -1, 0x3d21fa37, unchecked((int)0x80000001), 0x01020304];

    [Fact]
    public void PayloadMask_Apply_OutOfPlace_MatchesScalarForEveryLengthUpTo300AndEveryKeyIndex()
    {
        byte[] source = RandomBytes(SmallLengths + 3, seed: 1);
        foreach (int key in s_keys)
        {
            for (int keyIndex = 0; keyIndex < 4; keyIndex++)
            {
                for (int length = 0; length <= SmallLengths; length++)
                {
                    // An odd start offset keeps the vector loads unaligned.
                    ReadOnlySpan<byte> input = source.AsSpan(length % 3, length);
                    byte[] expected = new byte[length];
                    byte[] actual = new byte[length];

                    int expectedNext = PayloadMask.ApplyScalar(input, expected, key, keyIndex);
                    int next = PayloadMask.Apply(input, actual, key, keyIndex);

                    AssertSame(expected, actual, $"length {length}, key {key:x8}, key index {keyIndex}");
                    Assert.Equal(expectedNext, next);
                    Assert.Equal((keyIndex + length) & 3, next);
                }
            }
        }
    }

    [Fact]
    public void PayloadMask_Apply_InPlace_MatchesScalarForEveryLengthUpTo300AndEveryKeyIndex()
    {
        byte[] source = RandomBytes(SmallLengths, seed: 2);
        foreach (int key in s_keys)
        {
            for (int keyIndex = 0; keyIndex < 4; keyIndex++)
            {
                for (int length = 0; length <= SmallLengths; length++)
                {
                    byte[] expected = new byte[length];
                    PayloadMask.ApplyScalar(source.AsSpan(0, length), expected, key, keyIndex);
                    byte[] data = source.AsSpan(0, length).ToArray();

                    int next = PayloadMask.Apply(data, key, keyIndex);

                    AssertSame(expected, data, $"length {length}, key {key:x8}, key index {keyIndex}");
                    Assert.Equal((keyIndex + length) & 3, next);
                }
            }
        }
    }

    [Fact]
    public void PayloadMask_Apply_LeavesBytesAfterTheSourceLengthUntouched()
    {
        for (int length = 0; length <= 130; length++)
        {
            byte[] destination = new byte[length + 70];
            Array.Fill(destination, (byte)0xa5);

            PayloadMask.Apply(RandomBytes(length, seed: length), destination, -1, 1);

            Assert.All(destination.AsSpan(length).ToArray(), b => Assert.Equal(0xa5, b));
        }
    }

    [Fact]
    public void PayloadMask_Apply_MatchesScalarForRandomPayloadsUpTo100KB()
    {
        Gen<(byte[], int, int, bool)> cases = Gen.Select(
            Gen.Int[0, 100_000].Select(n => RandomBytes(n, n)), Gen.Int, Gen.Int[0, 3], Gen.Bool);

        cases.Sample((payload, key, keyIndex, inPlace) =>
        {
            byte[] expected = new byte[payload.Length];
            int expectedNext = PayloadMask.ApplyScalar(payload, expected, key, keyIndex);
            byte[] actual = inPlace ? (byte[])payload.Clone() : new byte[payload.Length];

            int next = inPlace ? PayloadMask.Apply(actual, key, keyIndex) : PayloadMask.Apply(payload, actual, key, keyIndex);

            Assert.Equal(expectedNext, next);
            Assert.True(expected.AsSpan().SequenceEqual(actual));
        }, iter: 200, print: c => $"length {c.Item1.Length}, key {c.Item2:x8}, key index {c.Item3}, in place {c.Item4}");
    }

    [Fact]
    public void PayloadMask_Apply_InRandomPieces_CarriesKeyIndexAcrossPieces()
    {
        Gen<(byte[], int, int, int[])> cases =
            from length in Gen.Int[0, 20_000]
            from key in Gen.Int
            from keyIndex in Gen.Int[0, 3]
            from cuts in Gen.Int[0, length].Array[0, 12]
            select (RandomBytes(length, length + 7), key, keyIndex, cuts);

        cases.Sample((payload, key, keyIndex, cuts) =>
        {
            byte[] expected = new byte[payload.Length];
            PayloadMask.ApplyScalar(payload, expected, key, keyIndex);
            byte[] outOfPlace = new byte[payload.Length];
            byte[] inPlace = (byte[])payload.Clone();

            int next = keyIndex;
            int nextInPlace = keyIndex;
            foreach ((int start, int count) in Chunking.AtCuts(payload.Length, cuts))
            {
                next = PayloadMask.Apply(payload.AsSpan(start, count), outOfPlace.AsSpan(start), key, next);
                nextInPlace = PayloadMask.Apply(inPlace.AsSpan(start, count), key, nextInPlace);
            }

            Assert.True(expected.AsSpan().SequenceEqual(outOfPlace));
            Assert.True(expected.AsSpan().SequenceEqual(inPlace));
            Assert.Equal((keyIndex + payload.Length) & 3, next);
            Assert.Equal(next, nextInPlace);
        }, iter: 300, print: c => $"length {c.Item1.Length}, key {c.Item2:x8}, key index {c.Item3}, cuts [{string.Join(", ", c.Item4)}]");
    }

    [Fact]
    public void PayloadMask_ApplyTwice_RestoresTheData()
    {
        Gen<(byte[], int, int)> cases = Gen.Select(Gen.Byte.Array[0, 5000], Gen.Int, Gen.Int[0, 3]);

        cases.Sample((payload, key, keyIndex) =>
        {
            byte[] data = (byte[])payload.Clone();

            PayloadMask.Apply(data, key, keyIndex);
            PayloadMask.Apply(data, key, keyIndex);

            Assert.True(payload.AsSpan().SequenceEqual(data));
        }, iter: 300);
    }

    [Fact]
    public void PayloadMask_Apply_ZeroKey_LeavesDataUnchanged()
    {
        byte[] payload = RandomBytes(1000, seed: 3);
        byte[] data = (byte[])payload.Clone();

        PayloadMask.Apply(data, 0, 2);

        Assert.Equal(payload, data);
    }

    [Fact]
    public void PayloadMask_Apply_Rfc6455MaskedHelloExample()
    {
        // RFC 6455 §5.7: 0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58 carries "Hello".
        int key = BinaryPrimitives.ReadInt32LittleEndian([0x37, 0xfa, 0x21, 0x3d]);
        byte[] masked = HexBytes.Parse("7f 9f 4d 51 58");
        byte[] unmasked = new byte[masked.Length];

        PayloadMask.Apply(masked, unmasked, key, 0);
        Assert.Equal("Hello", Encoding.ASCII.GetString(unmasked));

        PayloadMask.Apply(unmasked, key, 0);
        Assert.Equal(masked, unmasked);
    }

    [Fact]
    public void PayloadMask_Apply_KeyByteZeroIsTheFirstKeyByteOnTheWire()
    {
        int key = BinaryPrimitives.ReadInt32LittleEndian([0x01, 0x02, 0x04, 0x08]);
        byte[] data = new byte[6];

        PayloadMask.Apply(data, key, 0);
        Assert.Equal(HexBytes.Parse("01 02 04 08 01 02"), data);

        Array.Clear(data);
        PayloadMask.Apply(data, key, 3);
        Assert.Equal(HexBytes.Parse("08 01 02 04 08 01"), data);
    }

    [Fact]
    public void PayloadMask_Apply_DestinationShorterThanSource_Throws()
    {
        byte[] source = new byte[10];
        byte[] destination = new byte[9];

        Assert.Throws<ArgumentException>(() => PayloadMask.Apply(source, destination, 1, 0));
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        byte[] bytes = new byte[length];
#pragma warning disable CA5394 // deterministic test data, not security
        new Random(seed).NextBytes(bytes);
#pragma warning restore CA5394
        return bytes;
    }

    private static void AssertSame(byte[] expected, byte[] actual, string what)
    {
        int mismatch = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(mismatch == expected.Length && expected.Length == actual.Length, $"{what}: first difference at byte {mismatch}");
    }
}
