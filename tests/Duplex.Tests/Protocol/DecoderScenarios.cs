using System.Text;
using CsCheck;

namespace Duplex.Tests.Protocol;

/// <summary>Valid server streams: named ones for the examples, generated ones for properties.</summary>
internal static class DecoderScenarios
{
    private static readonly byte[] s_hello = Encoding.ASCII.GetBytes("Hello");

    public static readonly IReadOnlyDictionary<string, DecoderScenario> Named = new Dictionary<string, DecoderScenario>
    {
        // RFC 6455 §5.7.
        ["rfc unmasked text Hello"] = new(HexBytes.Parse("81 05 48 65 6c 6c 6f"), [DecoderEvent.Text("Hello")]),
        ["rfc fragmented text Hel+lo"] = new(HexBytes.Parse("01 03 48 65 6c 80 02 6c 6f"), [DecoderEvent.Text("Hello")]),
        ["rfc unmasked ping Hello"] = new(HexBytes.Parse("89 05 48 65 6c 6c 6f"), [DecoderEvent.Ping(s_hello)]),
        ["rfc 256-byte binary"] = new(
            [.. HexBytes.Parse("82 7e 01 00"), .. Pattern(256)],
            [DecoderEvent.Binary(Pattern(256))]),
        ["rfc 64KiB binary"] = new(
            [.. HexBytes.Parse("82 7f 00 00 00 00 00 01 00 00"), .. Pattern(65536)],
            [DecoderEvent.Binary(Pattern(65536))]),

        ["controls between fragments"] = new(
            new ServerStream()
                .Text("Hel", fin: false)
                .Ping(0x01, 0x02)
                .Continuation("l", fin: false)
                .Pong()
                .Ping()
                .Continuation("o", fin: true)
                .Binary([0xff, 0x00], fin: false)
                .Pong(0x70)
                .Continuation([0x01], fin: true)
                .Close(1000, "bye")
                .ToArray(),
            [
                DecoderEvent.Ping([0x01, 0x02]), DecoderEvent.Pong([]), DecoderEvent.Ping([]), DecoderEvent.Text("Hello"),
                DecoderEvent.Pong([0x70]), DecoderEvent.Binary([0xff, 0x00, 0x01]), DecoderEvent.Close(1000, "bye"),
            ]),
        ["empty frames"] = new(
            new ServerStream()
                .Text("")
                .Binary([])
                .Text("", fin: false).Continuation("", fin: false).Continuation("", fin: true)
                .Binary([], fin: false).Continuation([0x07], fin: false).Continuation([], fin: true)
                .Text("", fin: false).Ping().Continuation("", fin: true)
                .Ping()
                .Pong()
                .Close()
                .ToArray(),
            [
                DecoderEvent.Text(""), DecoderEvent.Binary([]), DecoderEvent.Text(""), DecoderEvent.Binary([0x07]),
                DecoderEvent.Ping([]), DecoderEvent.Text(""), DecoderEvent.Ping([]), DecoderEvent.Pong([]), DecoderEvent.Close(),
            ]),
        ["multi-byte characters split across fragments"] = new(
            new ServerStream()
                .Text([0xe2], fin: false)
                .Continuation([0x82], fin: false)
                .Ping(0x09)
                .Continuation([0xac, 0xf0, 0x9d], fin: false)
                .Continuation([0x84, 0x9e, 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce], fin: false)
                .Continuation([0xb5], fin: true)
                .ToArray(),
            [DecoderEvent.Ping([0x09]), DecoderEvent.Text("€𝄞κ\u1f79σμε")]),
        ["largest control frames"] = new(
            new ServerStream()
                .Ping(Pattern(125))
                .Pong(Pattern(125))
                .Close(4999, new string('r', 123))
                .ToArray(),
            [DecoderEvent.Ping(Pattern(125)), DecoderEvent.Pong(Pattern(125)), DecoderEvent.Close(4999, new string('r', 123))]),
        ["16-bit lengths"] = new(
            new ServerStream()
                .Text(new string('t', 126))
                .Binary(Pattern(65535))
                .Text(new string('u', 200), fin: false)
                .Continuation(new string('v', 300), fin: true)
                .ToArray(),
            [
                DecoderEvent.Text(new string('t', 126)), DecoderEvent.Binary(Pattern(65535)),
                DecoderEvent.Text(new string('u', 200) + new string('v', 300)),
            ]),
        ["64-bit length text with multi-byte characters"] = new(
            new ServerStream().Text(string.Concat(Enumerable.Repeat("κ\u1f79σμε €𝄞 ", 4000))).ToArray(),
            [DecoderEvent.Text(string.Concat(Enumerable.Repeat("κ\u1f79σμε €𝄞 ", 4000)))]),
        ["close without status"] = new(HexBytes.Parse("88 00"), [DecoderEvent.Close()]),
        ["close with status only"] = new(HexBytes.Parse("88 02 03 e8"), [DecoderEvent.Close(1000, "")]),
        ["close with 3000 and a UTF-8 reason"] = new(new ServerStream().Close(3000, "κ\u1f79σμε").ToArray(), [DecoderEvent.Close(3000, "κ\u1f79σμε")]),
        ["stream ending inside a header"] = new(HexBytes.Parse("81 01 41 82 7e 01"), [DecoderEvent.Text("A"), DecoderEvent.Incomplete]),
        ["stream ending inside a payload"] = new(HexBytes.Parse("81 01 41 82 03 01 02"), [DecoderEvent.Text("A"), DecoderEvent.Incomplete]),
        ["stream ending between fragments"] = new(HexBytes.Parse("01 01 41 89 00"), [DecoderEvent.Ping([]), DecoderEvent.Incomplete]),
        ["stream ending inside a control frame"] = new(HexBytes.Parse("89 03 01 02"), [DecoderEvent.Incomplete]),
    };

    public static TheoryData<string> Names => new(Named.Keys);

    /// <summary>Deterministic, non-repeating-looking bytes.</summary>
    public static byte[] Pattern(int length)
    {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i * 31) ^ (i >> 8));
        }

        return bytes;
    }

    private static readonly Gen<byte[]> s_controlPayload = Gen.Frequency((3, Gen.Byte.Array[0, 8]), (1, Gen.Byte.Array[0, 125]));

    /// <summary>A Ping or Pong with its expected event.</summary>
    private static readonly Gen<(Action<ServerStream> Write, string Event)> s_control =
        Gen.Select(Gen.Bool, s_controlPayload, (ping, payload) => ping
            ? ((Action<ServerStream>)(s => s.Ping(payload)), DecoderEvent.Ping(payload))
            : (s => s.Pong(payload), DecoderEvent.Pong(payload)));

    private static readonly Gen<byte[]> s_binaryPayload = Gen.Frequency(
        (8, Gen.Byte.Array[0, 200]),
        (3, Gen.Byte.Array[126, 3000]),
        (1, Gen.Int[65536, 70_000].Select(Pattern)));

    private static readonly Gen<byte[]> s_textPayload = Gen.Frequency(
        (8, Utf8Reference.ValidText),
        (1, Utf8Reference.Runes.Array[200, 2000].Select(Utf8Reference.Encode)));

    /// <summary>
    /// A data message cut into fragments at random points (empty fragments and characters split
    /// between fragments included) with Pings and Pongs between the fragments.
    /// </summary>
    private static readonly Gen<(Action<ServerStream> Write, string[] Events)> s_message =
        from text in Gen.Bool
        from payload in text ? s_textPayload : s_binaryPayload
        from cuts in Gen.Int[0, payload.Length].Array[0, 4]
        from controls in s_control.Array[0, 2].Array[cuts.Length]
        select Message(text, payload, cuts, controls);

    /// <summary>Random valid server streams, with or without a final Close.</summary>
    public static readonly Gen<DecoderScenario> Random =
        from items in Gen.Frequency(
            (3, s_message),
            (1, s_control.Select(c => (c.Write, new[] { c.Event }))))
            .Array[0, 8]
        from close in Gen.Frequency(
            (2, Gen.Const(default((int, string)?))),
            (1, Gen.Select(Gen.OneOf(Gen.Int[1000, 1003], Gen.Int[1007, 1014], Gen.Int[3000, 4999]), Gen.Char["abcκ€ "].Array[0, 20].Select(chars => new string(chars)))
                .Select(c => ((int, string)?)c)))
        select Build(items, close);

    private static (Action<ServerStream>, string[]) Message(bool text, byte[] payload, int[] cuts, (Action<ServerStream> Write, string Event)[][] controls)
    {
        var pieces = Chunking.AtCuts(payload.Length, cuts);
        var events = controls.SelectMany(gap => gap.Select(c => c.Event)).ToList();
        events.Add(text ? DecoderEvent.Text(payload) : DecoderEvent.Binary(payload));
        return (stream =>
        {
            for (int i = 0; i < pieces.Count; i++)
            {
                byte[] fragment = payload.AsSpan(pieces[i].Start, pieces[i].Length).ToArray();
                bool fin = i == pieces.Count - 1;
                stream.Frame(fin, i > 0 ? 0x0 : text ? 0x1 : 0x2, fragment);
                if (!fin)
                {
                    foreach (var control in controls[i])
                    {
                        control.Write(stream);
                    }
                }
            }
        }, [.. events]);
    }

    private static DecoderScenario Build((Action<ServerStream> Write, string[] Events)[] items, (int Code, string Reason)? close)
    {
        var stream = new ServerStream();
        var expected = new List<string>();
        foreach (var (write, events) in items)
        {
            write(stream);
            expected.AddRange(events);
        }

        if (close is { } c)
        {
            stream.Close(c.Code, c.Reason);
            expected.Add(DecoderEvent.Close(c.Code, c.Reason));
        }

        return new DecoderScenario(stream.ToArray(), expected);
    }
}
