using System.Text;
using System.Text.Unicode;
using CsCheck;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public sealed class Utf8ValidatorTests
{
    private const string Kosme = "ce ba e1 bd b9 cf 83 ce bc ce b5";

    /// <summary>Valid UTF-8, including the Autobahn 6.x boundary and noncharacter cases.</summary>
    public static TheoryData<string> ValidSequences => new()
    {
        "",
        "00",
        "41",
        "7f",                         // U+007F, last 1-byte
        "c2 80",                      // U+0080, first 2-byte
        "df bf",                      // U+07FF, last 2-byte
        "e0 a0 80",                   // U+0800, first 3-byte
        "ed 9f bf",                   // U+D7FF, last before the surrogates
        "ee 80 80",                   // U+E000, first after the surrogates
        "ef bf bd",                   // U+FFFD
        "ef bf be",                   // U+FFFE, a noncharacter, still valid UTF-8
        "ef bf bf",                   // U+FFFF, last 3-byte, a noncharacter
        "f0 90 80 80",                // U+10000, first 4-byte
        "f4 8f bf bf",                // U+10FFFF, last scalar value
        "ef b7 90",                   // U+FDD0, noncharacter
        "ef b7 af",                   // U+FDEF, noncharacter
        "f0 9f bf be",                // U+1FFFE, noncharacter
        "f0 9f bf bf",                // U+1FFFF, noncharacter
        "f3 bf bf bf",                // U+FFFFF, noncharacter
        "f4 8f bf be",                // U+10FFFE, noncharacter
        "e2 82 ac",                   // €
        "f0 9d 84 9e",                // 𝄞
        "f0 9f 98 80",                // 😀
        Kosme,                        // κόσμε
        "00 00 00 00",
        "48 65 6c 6c 6f 2d c2 b5 40 c3 9f c3 b6 c3 a4 c3 bc c3 a0 c3 a1 2d 55 54 46 2d 38 21 21", // Hello-µ@ßöäüàá-UTF-8!!
        "7f c2 80 df bf e0 a0 80 ef bf bf f0 90 80 80 f4 8f bf bf",
        HexBytes.Format(Encoding.UTF8.GetBytes(new string('a', 100) + "κόσμε" + string.Concat(Enumerable.Repeat("€𝄞", 40)) + new string('z', 67))),
    };

    /// <summary>
    /// Invalid UTF-8 with the index of the byte at which it stops being a prefix of valid UTF-8;
    /// -1 when it is only cut short at the end.
    /// </summary>
    public static TheoryData<string, int> InvalidSequences => new()
    {
        { "80", 0 },                              // lone continuation byte
        { "bf", 0 },
        { "41 80", 1 },
        { "80 bf 80 bf", 0 },
        { "c0 80", 0 },                           // overlong U+0000
        { "c0 af", 0 },                           // overlong "/"
        { "c1 bf", 0 },                           // largest overlong 2-byte form
        { "e0 80 80", 1 },                        // overlong U+0000
        { "e0 80 af", 1 },
        { "e0 9f bf", 1 },                        // largest overlong 3-byte form
        { "f0 80 80 80", 1 },                     // overlong U+0000
        { "f0 80 80 af", 1 },
        { "f0 8f bf bf", 1 },                     // largest overlong 4-byte form
        { "ed a0 80", 1 },                        // U+D800
        { "ed ad bf", 1 },                        // U+DB7F
        { "ed ae 80", 1 },                        // U+DB80
        { "ed af bf", 1 },                        // U+DBFF
        { "ed b0 80", 1 },                        // U+DC00
        { "ed be 80", 1 },                        // U+DF80
        { "ed bf bf", 1 },                        // U+DFFF
        { "ed a0 80 ed b0 80", 1 },               // a surrogate pair encoded as two sequences
        { "ed af bf ed bf bf", 1 },
        { "f4 90 80 80", 1 },                     // U+110000
        { "f4 bf bf bf", 1 },
        { "f5 80 80 80", 0 },                     // F5 and above never occur
        { "f7 bf bf bf", 0 },
        { "f8 88 80 80 80", 0 },                  // 5-byte form
        { "fb bf bf bf bf", 0 },
        { "fc 84 80 80 80 80", 0 },               // 6-byte form
        { "fd bf bf bf bf bf", 0 },
        { "fe", 0 },
        { "ff", 0 },
        { "fe fe ff ff", 0 },
        { "c2", -1 },                             // truncated at the end
        { "df", -1 },
        { "e1", -1 },
        { "e0 a0", -1 },
        { "ef bf", -1 },
        { "f1 80", -1 },
        { "f0 90 80", -1 },
        { "f4 8f bf", -1 },
        { "ce ba e1 bd", -1 },                    // κό cut inside ό
        { "c2 41", 1 },                           // lead byte followed by no continuation
        { "c2 20", 1 },
        { "e0 20", 1 },
        { "f0 20", 1 },
        { "f0 90 41", 2 },
        { "e0 a0 41", 2 },
        { "f0 90 80 41", 3 },
        { "c2 e0 a0", 1 },                        // incomplete sequences back to back
        { "c0 e0 80 f0 80 80 f8 88 80 80 fc 84 80 80 80 df ef bf f7 bf bf fb bf bf bf fd bf bf bf bf", 0 },
        { "e2 82 ac 80", 3 },                     // extra continuation byte
        { "f0 90 80 80 80", 4 },
        { "48 65 6c 6c 6f c0", 5 },
        { "ef bf bf f4 90", 4 },
        { "ed 9f bf ed a0", 4 },
        { Kosme + " ed a0 80 65 64 69 74 65 64", 12 },   // κόσμε, U+D800, "edited"
        { Kosme + " f4 90 80 80 65 64 69 74 65 64", 12 }, // κόσμε, U+110000, "edited"
        { Kosme + " 80", 11 },
        { HexBytes.Format(Encoding.ASCII.GetBytes(new string('a', 100))) + "ff", 100 },
        { HexBytes.Format(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("€", 30)))) + "e0 80" + new string('a', 80).Replace("a", "41", StringComparison.Ordinal), 91 },
    };

    [Theory]
    [MemberData(nameof(ValidSequences))]
    public void Utf8Validator_ValidSequence_AcceptedWholeByteByByteAndSplitAnywhere(string hex)
    {
        byte[] data = HexBytes.Parse(hex);
        Assert.True(Utf8.IsValid(data));

        Assert.Equal(-1, FailingPiece(data, [(0, data.Length)]));
        Assert.Equal(-1, FailingPiece(data, Chunking.Pieces(data.Length, Chunking.ByteByByte).ToList()));
        for (int i = 0; i <= data.Length; i++)
        {
            for (int j = i; j <= data.Length; j++)
            {
                Assert.True(FailingPiece(data, Chunking.AtCuts(data.Length, [i, j])) == -1, $"split at {i} and {j}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(InvalidSequences))]
    public void Utf8Validator_InvalidSequence_RejectedWhole(string hex, int firstInvalid)
    {
        byte[] data = HexBytes.Parse(hex);
        Assert.False(Utf8.IsValid(data));
        Assert.Equal(firstInvalid, Utf8Reference.FirstInvalidIndex(data));

        Assert.Equal(0, FailingPiece(data, [(0, data.Length)]));
    }

    [Theory]
    [MemberData(nameof(InvalidSequences))]
    public void Utf8Validator_InvalidSequence_ByteByByte_FailsAtTheFirstInvalidByte(string hex, int firstInvalid)
    {
        byte[] data = HexBytes.Parse(hex);

        int failed = FailingPiece(data, Chunking.Pieces(data.Length, Chunking.ByteByByte).ToList());

        Assert.Equal(firstInvalid >= 0 ? firstInvalid : data.Length - 1, failed);
    }

    [Theory]
    [MemberData(nameof(InvalidSequences))]
    public void Utf8Validator_InvalidSequence_SplitAnywhere_FailsInThePieceHoldingTheFirstInvalidByte(string hex, int firstInvalid)
    {
        byte[] data = HexBytes.Parse(hex);
        for (int i = 0; i <= data.Length; i++)
        {
            for (int j = i; j <= data.Length; j++)
            {
                var pieces = Chunking.AtCuts(data.Length, [i, j]);

                int failed = FailingPiece(data, pieces);

                Assert.True(ExpectedFailingPiece(pieces, firstInvalid) == failed, $"split at {i} and {j}: piece {failed} failed");
            }
        }
    }

    [Theory]
    [InlineData("e0 80")]
    [InlineData("e0 9f")]
    [InlineData("ed a0")]
    [InlineData("ed bf")]
    [InlineData("f0 80")]
    [InlineData("f0 8f")]
    [InlineData("f4 90")]
    [InlineData("f4 bf")]
    [InlineData("c0")]
    [InlineData("c1")]
    [InlineData("f5")]
    [InlineData("ff")]
    [InlineData("c2 41")]
    [InlineData("e1 80 41")]
    public void Utf8Validator_ImpossiblePrefix_FailsWithoutWaitingForMoreBytes(string hex)
    {
        var validator = new Utf8Validator();

        Assert.False(validator.Append(HexBytes.Parse(hex), isFinal: false));
    }

    [Theory]
    [InlineData("e0", "80")]
    [InlineData("ed", "a0")]
    [InlineData("f0", "8f")]
    [InlineData("f4", "90")]
    [InlineData("f0 90", "41")]
    [InlineData("e0 a0", "c2")]
    [InlineData("f1 80 80", "7f")]
    public void Utf8Validator_ImpossiblePrefixAcrossPieces_FailsOnThePieceThatCompletesIt(string first, string second)
    {
        var validator = new Utf8Validator();

        Assert.True(validator.Append(HexBytes.Parse(first), isFinal: false));
        Assert.True(validator.HasIncompleteSequence);
        Assert.False(validator.Append(HexBytes.Parse(second), isFinal: false));
    }

    [Theory]
    [InlineData("c2")]
    [InlineData("e0 a0")]
    [InlineData("ed 9f")]
    [InlineData("e1 80")]
    [InlineData("f0 90")]
    [InlineData("f1 80 80")]
    [InlineData("f4 8f bf")]
    [InlineData("41 42 f0 9f 98")]
    public void Utf8Validator_ValidIncompletePrefix_WaitsAndThenFailsIfTheMessageEnds(string hex)
    {
        var validator = new Utf8Validator();

        Assert.True(validator.Append(HexBytes.Parse(hex), isFinal: false));
        Assert.True(validator.HasIncompleteSequence);
        Assert.True(validator.Append([], isFinal: false));
        Assert.False(validator.Append([], isFinal: true));
    }

    [Fact]
    public void Utf8Validator_SequenceCompletedOverSeveralPieces_IsAccepted()
    {
        var validator = new Utf8Validator();

        Assert.True(validator.Append([0xf0], isFinal: false));
        Assert.True(validator.Append([], isFinal: false));
        Assert.True(validator.Append([0x9f], isFinal: false));
        Assert.True(validator.Append([0x98], isFinal: false));
        Assert.True(validator.Append([0x80, 0x41, 0xe2], isFinal: false));
        Assert.True(validator.Append([0x82, 0xac], isFinal: true));
        Assert.False(validator.HasIncompleteSequence);
    }

    [Fact]
    public void Utf8Validator_Reset_ForgetsTheIncompleteSequence()
    {
        var validator = new Utf8Validator();
        Assert.True(validator.Append([0xe2, 0x82], isFinal: false));

        validator.Reset();

        Assert.False(validator.HasIncompleteSequence);
        Assert.True(validator.Append("A"u8, isFinal: true));
        validator.Reset();
        Assert.True(validator.Append([0xe2, 0x82], isFinal: false));
        validator.Reset();
        Assert.False(validator.Append([0xac], isFinal: true));
    }

    [Fact]
    public void Utf8Validator_EmptyFinalPiece_IsValid()
    {
        var validator = new Utf8Validator();

        Assert.True(validator.Append([], isFinal: true));
    }

    [Fact]
    public void Utf8Validator_RandomValidTextSplitAnywhere_IsAccepted()
    {
        Gen<(byte[], int[])> cases = Utf8Reference.ValidText.SelectMany(
            data => Gen.Int[0, data.Length].Array[0, 8].Select(cuts => (data, cuts)));

        cases.Sample((data, cuts) =>
        {
            Assert.True(Utf8.IsValid(data));
            Assert.Equal(-1, FailingPiece(data, Chunking.AtCuts(data.Length, cuts)));
        }, iter: 2000, print: Describe);
    }

    [Fact]
    public void Utf8Validator_RandomStringsEncodedAsUtf8SplitAnywhere_AreAccepted()
    {
        Gen<(byte[], int[])> cases = Gen.String.Select(s => Encoding.UTF8.GetBytes(s)).SelectMany(
            data => Gen.Int[0, data.Length].Array[0, 8].Select(cuts => (data, cuts)));

        cases.Sample((data, cuts) =>
        {
            Assert.Equal(Utf8.IsValid(data) ? -1 : 0, FailingPiece(data, Chunking.AtCuts(data.Length, cuts)));
        }, iter: 2000, print: Describe);
    }

    [Fact]
    public void Utf8Validator_RandomNearTextSplitAnywhere_AgreesWithOneShotAndFailsFast()
    {
        Gen<(byte[], int[])> cases = Utf8Reference.NearText.SelectMany(
            data => Gen.Int[0, data.Length].Array[0, 8].Select(cuts => (data, cuts)));

        cases.Sample((data, cuts) => AssertStreamingAgreesWithOneShot(data, cuts), iter: 3000, print: Describe);
    }

    [Fact]
    public void Utf8Validator_RandomBytesSplitAnywhere_AgreesWithOneShotAndFailsFast()
    {
        Gen<(byte[], int[])> cases = Gen.Byte.Array[0, 24].SelectMany(
            data => Gen.Int[0, data.Length].Array[0, 6].Select(cuts => (data, cuts)));

        cases.Sample((data, cuts) => AssertStreamingAgreesWithOneShot(data, cuts), iter: 3000, print: Describe);
    }

    private static void AssertStreamingAgreesWithOneShot(byte[] data, int[] cuts)
    {
        var pieces = Chunking.AtCuts(data.Length, cuts);

        int failed = FailingPiece(data, pieces);

        Assert.Equal(Utf8.IsValid(data), failed == -1);
        if (failed != -1)
        {
            Assert.Equal(ExpectedFailingPiece(pieces, Utf8Reference.FirstInvalidIndex(data)), failed);
        }
    }

    /// <summary>Feeds the pieces in order, the last as final; returns the index of the piece that failed, or -1.</summary>
    private static int FailingPiece(byte[] data, IReadOnlyList<(int Start, int Length)> pieces)
    {
        var validator = new Utf8Validator();
        for (int i = 0; i < pieces.Count; i++)
        {
            if (!validator.Append(data.AsSpan(pieces[i].Start, pieces[i].Length), isFinal: i == pieces.Count - 1))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The piece holding the first invalid byte, or the last piece when the data only ends early.</summary>
    private static int ExpectedFailingPiece(IReadOnlyList<(int Start, int Length)> pieces, int firstInvalid)
    {
        if (firstInvalid < 0)
        {
            return pieces.Count - 1;
        }

        for (int i = 0; i < pieces.Count; i++)
        {
            if (firstInvalid >= pieces[i].Start && firstInvalid < pieces[i].Start + pieces[i].Length)
            {
                return i;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(firstInvalid));
    }

    private static string Describe((byte[] Data, int[] Cuts) c) =>
        $"{HexBytes.Format(c.Data)} cut at [{string.Join(", ", c.Cuts.Order())}]";
}
