using System.Net.WebSockets;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Autobahn case 6 (UTF-8 handling, RFC 6455 §8.1): valid text arrives intact however it is split across fragments
/// and TCP writes, including inside multi-byte sequences; invalid UTF-8 fails the connection with 1007, whether in
/// one frame or spread over fragments, and fails fast: the Close goes out as soon as the first byte that cannot
/// begin valid UTF-8 arrives, before the rest of the message is sent.
/// </summary>
public sealed class Case6Utf8Tests
{
    public static TheoryData<string, string> ValidTexts() => new()
    {
        { "6.2 Latin-1 supplement", "Hello-µ@ßöäüàá-UTF-8!!" },
        { "6.5 Greek", "κόσμε" },
        { "6.5 3-byte CJK", "日本語のテキスト" },
        { "6.5 4-byte", "𝄞 😀 🎉" },
        { "6.7 first of each length", "\0\u0080\u0800\U00010000" },
        { "6.9 last of each length", "\u007F\u07FF\uFFFF\U0010FFFF" },
        { "6.11 other boundaries", "\uD7FF\uE000\uFFFD\U0010FFFF" },
        { "6.22 noncharacters", "\uFFFE\uFFFF\uFDD0\U0001FFFE\U0010FFFE" },
        { "mixed", "a-é-€-😀-z" },
    };

    [Theory]
    [MemberData(nameof(ValidTexts))]
    public async Task ValidText_SplitIntoTwoFragmentsAtEveryBytePosition_ArrivesIntact(string autobahnCase, string text)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] bytes = Encoding.UTF8.GetBytes(text);

        for (int split = 0; split <= bytes.Length; split++)
        {
            await session.WriteAsync(
            [
                .. RawConnection.Frame(0x1, bytes.AsSpan(0, split), fin: false),
                .. RawConnection.Frame(0x0, bytes.AsSpan(split)),
            ]);
            await session.ExpectTextAsync(text);
        }

        await session.CloseFromServerAsync();
    }

    [Theory]
    [MemberData(nameof(ValidTexts))]
    public async Task ValidText_SplitIntoThreeFragmentsAtEveryPairOfPositions_ArrivesIntact(string autobahnCase, string text)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var frames = new List<byte>();
        int messages = 0;

        for (int first = 0; first <= bytes.Length; first++)
        {
            for (int second = first; second <= bytes.Length; second++)
            {
                frames.AddRange(RawConnection.Frame(0x1, bytes.AsSpan(0, first), fin: false));
                frames.AddRange(RawConnection.Frame(0x0, bytes.AsSpan(first, second - first), fin: false));
                frames.AddRange(RawConnection.Frame(0x0, bytes.AsSpan(second)));
                messages++;
            }
        }

        Task write = session.WriteAsync([.. frames]);
        for (int i = 0; i < messages; i++)
        {
            await session.ExpectTextAsync(text);
        }

        await write;
        await session.CloseFromServerAsync();
    }

    [Theory]
    [MemberData(nameof(ValidTexts))]
    public async Task ValidText_OneFragmentPerByte_ArrivesIntact(string autobahnCase, string text)
    {
        // Autobahn 6.2.3/6.2.4.
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        var frames = new List<byte>();
        for (int i = 0; i < bytes.Length; i++)
        {
            frames.AddRange(RawConnection.Frame(i == 0 ? (byte)0x1 : (byte)0x0, bytes.AsSpan(i, 1), fin: i == bytes.Length - 1));
        }

        await session.WriteAsync([.. frames]);

        await session.ExpectTextAsync(text);
        await session.CloseFromServerAsync();
    }

    [Theory]
    [MemberData(nameof(ValidTexts))]
    public async Task ValidText_OneFrameWrittenByteByByte_ArrivesIntact(string autobahnCase, string text)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync(RawConnection.Frame(0x1, Encoding.UTF8.GetBytes(text)), chunkSize: 1);

        await session.ExpectTextAsync(text);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task EmptyTextMessages_ArriveAsEmptyStrings()
    {
        // Autobahn 6.1.1–6.1.3.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync(
        [
            .. RawConnection.Frame(0x1, []),
            .. RawConnection.Frame(0x1, [], fin: false), .. RawConnection.Frame(0x0, [], fin: false), .. RawConnection.Frame(0x0, []),
            .. RawConnection.Frame(0x1, [], fin: false), .. RawConnection.Frame(0x0, "middle"u8, fin: false), .. RawConnection.Frame(0x0, []),
        ]);

        await session.ExpectTextAsync(string.Empty);
        await session.ExpectTextAsync(string.Empty);
        await session.ExpectTextAsync("middle");
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ApplicationText_SplitInsideCharactersAcrossFragments_GoesOutAsValidUtf8()
    {
        // The client may split a character between its own fragments; the message as a whole is valid UTF-8.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] bytes = Encoding.UTF8.GetBytes("κόσμε 😀");
        WebSocketMessageWriter writer = await session.Client.CreateMessageWriterAsync(WebSocketMessageType.Text, session.Token);

        for (int i = 0; i < bytes.Length - 1; i++)
        {
            await writer.WriteAsync(bytes.AsMemory(i, 1), session.Token);
        }

        await writer.CompleteAsync(bytes.AsMemory(bytes.Length - 1), session.Token);
        var received = new List<byte>();
        for (int i = 0; i < bytes.Length; i++)
        {
            RawFrame frame = await session.ReadClientFrameAsync();
            Assert.Equal(i == 0 ? 0x1 : 0x0, frame.Opcode);
            Assert.Equal(i == bytes.Length - 1, frame.Fin);
            received.AddRange(frame.Payload);
        }

        Assert.Equal(bytes, received);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ApplicationText_InvalidUtf8_IsRefusedBeforeAnythingGoesOut()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        Assert.Throws<ArgumentException>(() => { _ = session.Client.SendAsync(new byte[] { 0x61, 0xC0, 0xAF }, WebSocketMessageType.Text, session.Token); });
        WebSocketMessageWriter writer = await session.Client.CreateMessageWriterAsync(WebSocketMessageType.Text, session.Token);
        await Assert.ThrowsAsync<ArgumentException>(() => writer.WriteAsync(new byte[] { 0xED, 0xA0 }, session.Token).AsTask());
        await writer.CompleteAsync(ReadOnlyMemory<byte>.Empty, session.Token);

        // Only the writer's empty final frame went out before the Pong: no invalid byte reached the wire.
        RawFrame end = await session.ReadClientFrameAsync();
        Assert.Equal((0x1, true, 0), (end.Opcode, end.Fin, end.Payload.Length));
        await session.RoundTripPingAsync();
        await session.CloseFromServerAsync();
    }

    public static TheoryData<string, byte[]> InvalidSequences() => new()
    {
        { "6.3 surrogate inside text", [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64] },
        { "6.8 5-byte sequence", [0xF8, 0x88, 0x80, 0x80, 0x80] },
        { "6.8 6-byte sequence", [0xFC, 0x84, 0x80, 0x80, 0x80, 0x80] },
        { "6.10 above U+10FFFF", [0xF4, 0x90, 0x80, 0x80] },
        { "6.10 F7 lead", [0xF7, 0xBF, 0xBF, 0xBF] },
        { "6.12 lone continuation 80", [0x80] },
        { "6.12 lone continuation BF", [0xBF] },
        { "6.12 continuations 80 BF 80", [0x80, 0xBF, 0x80] },
        { "6.13 2-byte lead then space", [0xC2, 0x20] },
        { "6.13 3-byte lead then space", [0xE1, 0x20] },
        { "6.13 4-byte lead then space", [0xF1, 0x20] },
        { "6.14 2-byte sequence cut at the end", [0x41, 0xC2] },
        { "6.14 3-byte sequence cut at the end", [0x41, 0xE2, 0x82] },
        { "6.14 4-byte sequence cut at the end", [0x41, 0xF0, 0x9F, 0x98] },
        { "6.15 incomplete sequences back to back", [0xC2, 0xE2, 0x82, 0xF0, 0x9F, 0x98] },
        { "6.16 FE", [0xFE] },
        { "6.16 FF", [0xFF] },
        { "6.16 FE FE FF FF", [0xFE, 0xFE, 0xFF, 0xFF] },
        { "6.17 overlong '/' in 2 bytes", [0xC0, 0xAF] },
        { "6.17 overlong '/' in 3 bytes", [0xE0, 0x80, 0xAF] },
        { "6.17 overlong '/' in 4 bytes", [0xF0, 0x80, 0x80, 0xAF] },
        { "6.18 maximum overlong 2 bytes", [0xC1, 0xBF] },
        { "6.18 maximum overlong 3 bytes", [0xE0, 0x9F, 0xBF] },
        { "6.18 maximum overlong 4 bytes", [0xF0, 0x8F, 0xBF, 0xBF] },
        { "6.19 overlong NUL", [0xC0, 0x80] },
        { "6.20 lone high surrogate", [0xED, 0xA0, 0x80] },
        { "6.20 lone low surrogate", [0xED, 0xBF, 0xBF] },
        { "6.21 surrogate pair in CESU-8", [0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80] },
    };

    [Theory]
    [MemberData(nameof(InvalidSequences))]
    public async Task InvalidUtf8_InOneFrame_FailsWithInvalidPayloadData(string autobahnCase, byte[] bytes)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync([.. RawConnection.Frame(0x1, "before"u8), .. RawConnection.Frame(0x1, bytes), .. RawConnection.Frame(0x9, "after"u8)]);

        await session.ExpectTextAsync("before");
        await session.ExpectFailedAsync(1007);
    }

    [Theory]
    [MemberData(nameof(InvalidSequences))]
    public async Task InvalidUtf8_OneFragmentPerByte_FailsWithInvalidPayloadData(string autobahnCase, byte[] bytes)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] text = [.. "ab"u8, .. bytes, .. "cd"u8];
        var frames = new List<byte>();
        for (int i = 0; i < text.Length; i++)
        {
            frames.AddRange(RawConnection.Frame(i == 0 ? (byte)0x1 : (byte)0x0, text.AsSpan(i, 1), fin: i == text.Length - 1));
        }

        await session.WriteAsync([.. frames]);

        await session.ExpectFailedAsync(1007);
    }

    [Theory]
    [MemberData(nameof(InvalidSequences))]
    public async Task InvalidUtf8_InOneFrameWrittenByteByByte_FailsWithInvalidPayloadData(string autobahnCase, byte[] bytes)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteViolationAsync(RawConnection.Frame(0x1, [.. "ab"u8, .. bytes, .. "cd"u8]), chunkSize: 1);

        await session.ExpectFailedAsync(1007);
    }

    public static TheoryData<string, byte[], byte[]> FailFastSplits() => new()
    {
        // Autobahn 6.4.1/6.4.3: the bad bytes arrive whole after a valid prefix.
        { "above U+10FFFF after a valid prefix", "κόσμε"u8.ToArray(), [0xF4, 0x90, 0x80, 0x80] },

        // Autobahn 6.4.2/6.4.4: the prefix ends with a lead byte that could still be valid; the next byte rules it out.
        { "lead byte, then an impossible continuation", [.. "κόσμε"u8, 0xF4], [0x90] },
        { "surrogate lead, then its second byte", [.. "κόσμε"u8, 0xED], [0xA0] },
        { "overlong lead byte", "κόσμε"u8.ToArray(), [0xC0] },
        { "lone continuation byte", "κόσμε"u8.ToArray(), [0x80] },
        { "impossible byte", "ab"u8.ToArray(), [0xFF] },
    };

    [Theory]
    [MemberData(nameof(FailFastSplits))]
    public async Task InvalidUtf8_InALaterFragment_ClosesBeforeTheRestOfTheMessageIsSent(string name, byte[] validPrefix, byte[] bad)
    {
        Assert.NotNull(name);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        // The valid prefix alone must not fail: a Ping after it is still answered.
        await session.WriteAsync(RawConnection.Frame(0x1, validPrefix, fin: false));
        await session.RoundTripPingAsync();

        // The fragment with the first bad byte; the rest of the message ("edited") is never sent.
        await session.WriteAsync(RawConnection.Frame(0x0, bad, fin: false));

        await session.ExpectFailedAsync(1007);
    }

    [Theory]
    [MemberData(nameof(FailFastSplits))]
    public async Task InvalidUtf8_InsideOneFrame_ClosesBeforeTheRestOfTheFrameIsSent(string name, byte[] validPrefix, byte[] bad)
    {
        Assert.NotNull(name);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] rest = "edited"u8.ToArray();

        // The header announces the whole payload; it is written in pieces and the last piece is never sent.
        await session.WriteAsync(
        [
            .. RawConnection.FrameHeader(0x1, (ulong)(validPrefix.Length + bad.Length + rest.Length)),
            .. validPrefix,
        ]);
        await session.WriteAsync(bad);

        await session.ExpectFailedAsync(1007);
    }
}
