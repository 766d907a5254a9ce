using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Autobahn case 5 (fragmentation, RFC 6455 §5.4): fragmented text and binary messages are reassembled whatever the
/// number and size of fragments; control frames between fragments are handled at once (a Ping is answered before
/// the message is complete); fragmented control frames, continuations without a message and a new message inside a
/// fragmented one fail the connection with 1002.
/// </summary>
public sealed class Case5FragmentationTests
{
    public static TheoryData<byte, int, int> FragmentCounts()
    {
        var data = new TheoryData<byte, int, int>();
        foreach (byte opcode in new byte[] { 0x1, 0x2 })
        {
            // Autobahn 5.3–5.5: two fragments, written whole and in 1-byte writes; then more fragments.
            data.Add(opcode, 2, 0);
            data.Add(opcode, 2, 1);
            data.Add(opcode, 3, 0);
            data.Add(opcode, 10, 0);
            data.Add(opcode, 10, 7);
            data.Add(opcode, 100, 0);
            data.Add(opcode, 1000, 0);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(FragmentCounts))]
    public async Task FragmentedMessage_IsReassembled(byte opcode, int fragments, int chunkSize)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = opcode == 0x1
            ? Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, fragments).Select(i => $"fragment{i};")))
            : RandomNumberGenerator.GetBytes(fragments * 11);

        await session.WriteAsync(Fragments(opcode, payload, fragments), chunkSize);

        await ExpectMessageAsync(session, opcode, payload);
        await session.CloseFromServerAsync();
    }

    [Theory]
    [InlineData(0x1, new[] { 0, 0 })]
    [InlineData(0x1, new[] { 0, 0, 0 })]
    [InlineData(0x1, new[] { 0, 6, 0 })]
    [InlineData(0x1, new[] { 3, 0, 0, 3 })]
    [InlineData(0x2, new[] { 0, 0 })]
    [InlineData(0x2, new[] { 0, 4, 0, 0, 4, 0 })]
    public async Task EmptyFragments_AreAllowedAnywhere(byte opcode, int[] sizes)
    {
        // Autobahn 6.1.2/6.1.3: zero-length fragments are valid at the start, in the middle and at the end.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = [.. Enumerable.Range(0, sizes.Sum()).Select(i => (byte)('a' + (i % 26)))];
        var frames = new List<byte>();
        int offset = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            frames.AddRange(RawConnection.Frame(i == 0 ? opcode : (byte)0x0, payload.AsSpan(offset, sizes[i]), fin: i == sizes.Length - 1));
            offset += sizes[i];
        }

        await session.WriteAsync([.. frames]);

        await ExpectMessageAsync(session, opcode, payload);
        await session.CloseFromServerAsync();
    }

    [Theory]
    [InlineData(0x1, 0)]
    [InlineData(0x1, 1)]
    [InlineData(0x2, 0)]
    [InlineData(0x2, 1)]
    public async Task PingBetweenFragments_IsAnsweredBeforeTheMessageCompletes(byte opcode, int chunkSize)
    {
        // Autobahn 5.6–5.8; RFC 6455 §5.4: "control frames MAY be injected in the middle of a fragmented message".
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        Task<WebSocketMessage> receive = session.ReceiveAsync();

        await session.WriteAsync([.. RawConnection.Frame(opcode, "fragment1"u8, fin: false), .. RawConnection.Frame(0x9, "ping payload"u8)], chunkSize);

        // The Pong goes out while the message is still incomplete, and the application has no message yet.
        RawFrame pong = await session.ReadClientFrameAsync(0xA);
        Assert.Equal("ping payload", pong.Text);
        Assert.False(receive.IsCompleted);

        await session.WriteAsync(RawConnection.Frame(0x0, "fragment2"u8), chunkSize);
        WebSocketMessage message = await receive;
        Assert.Equal(opcode == 0x1 ? WebSocketMessageType.Text : WebSocketMessageType.Binary, message.MessageType);
        Assert.Equal("fragment1fragment2", opcode == 0x1 ? message.Text : Encoding.UTF8.GetString(message.Data.Span));
        await session.CloseFromServerAsync();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task PingsBetweenEachOfFiveFragments_EachAnsweredInTurn(int chunkSize)
    {
        // Autobahn 5.19/5.20: 5 fragments with a Ping after the 1st and the 4th, each answered before the next fragment.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        Task<WebSocketMessage> receive = session.ReceiveAsync();
        string[] parts = ["fragment1", "fragment2", "fragment3", "fragment4", "fragment5"];

        for (int i = 0; i < parts.Length; i++)
        {
            byte opcode = i == 0 ? (byte)0x1 : (byte)0x0;
            await session.WriteAsync(RawConnection.Frame(opcode, Encoding.UTF8.GetBytes(parts[i]), fin: i == parts.Length - 1), chunkSize);
            if (i is 0 or 3)
            {
                await session.WriteAsync(RawConnection.Frame(0x9, Encoding.UTF8.GetBytes($"pongme {i}")), chunkSize);
                RawFrame pong = await session.ReadClientFrameAsync(0xA);
                Assert.Equal($"pongme {i}", pong.Text);
                Assert.False(receive.IsCompleted);
            }
        }

        WebSocketMessage message = await receive;
        Assert.Equal(string.Concat(parts), message.Text);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task UnsolicitedPongBetweenFragments_IsIgnored()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync(
        [
            .. RawConnection.Frame(0x1, "frag"u8, fin: false),
            .. RawConnection.Frame(0xA, "unsolicited"u8),
            .. RawConnection.Frame(0x0, "ment"u8),
        ]);

        await session.ExpectTextAsync("fragment");
        await session.RoundTripPingAsync();
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task FragmentedMessage_StreamedWithReceiveAsync_EndsOnlyWithTheLastFragment()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = RandomNumberGenerator.GetBytes(1000);

        await session.WriteAsync(Fragments(0x2, payload, 10));

        var received = new List<byte>();
        byte[] buffer = new byte[64];
        while (true)
        {
            ValueWebSocketReceiveResult result = await session.Client.ReceiveAsync(buffer, session.Token).AsTask().WaitAsync(session.Token);
            Assert.Equal(WebSocketMessageType.Binary, result.MessageType);
            received.AddRange(buffer.AsSpan(0, result.Count));
            if (result.EndOfMessage)
            {
                break;
            }
        }

        Assert.Equal(payload, received);
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ApplicationFragmentedMessage_PongGoesOutBetweenItsFragments()
    {
        // The client side of RFC 6455 §5.4: its own fragments stay in order, a Pong may go between them.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        WebSocketMessageWriter writer = await session.Client.CreateMessageWriterAsync(WebSocketMessageType.Text, session.Token);

        await writer.WriteAsync("frag"u8.ToArray(), session.Token);
        RawFrame first = await session.ReadClientFrameAsync();
        await session.Raw.SendFrameAsync(0x9, "between"u8.ToArray(), cancellationToken: session.Token);
        RawFrame pong = await session.ReadClientFrameAsync(0xA);
        await writer.CompleteAsync("ment"u8.ToArray(), session.Token);
        RawFrame last = await session.ReadClientFrameAsync();

        Assert.Equal((0x1, false, "frag"), (first.Opcode, first.Fin, first.Text));
        Assert.Equal("between", pong.Text);
        Assert.Equal((0x0, true, "ment"), (last.Opcode, last.Fin, last.Text));
        await session.CloseFromServerAsync();
    }

    [Fact]
    public async Task ApplicationFragmentedMessage_ServerClosesInTheMiddle_WriterFailsClosedAndDisposesQuietly()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        WebSocketMessageWriter writer = await session.Client.CreateMessageWriterAsync(WebSocketMessageType.Binary, session.Token);
        await writer.WriteAsync(new byte[] { 1, 2, 3 }, session.Token);
        RawFrame first = await session.ReadClientFrameAsync();

        // The server's Close arrives between the client's fragments: the client answers it (control frames may go
        // between fragments) and the rest of the message can no longer be sent.
        await session.Raw.SendCloseAsync(1001, "going away", session.Token);
        RawCloseFrame echo = await session.ReadClientCloseAsync();
        await Assert.ThrowsAsync<WebSocketClosedException>(() => writer.WriteAsync(new byte[] { 4 }, session.Token).AsTask());
        await writer.DisposeAsync();
        session.Raw.ShutdownSend();

        Assert.Equal((0x2, false), (first.Opcode, first.Fin));
        Assert.Equal((ushort)1001, echo.Code);
        Assert.True((await session.ReceiveAsync()).IsClose);
        await Assert.ThrowsAsync<EndOfStreamException>(() => session.Raw.ReadFrameAsync(TestTimeouts.Default, session.Token));
    }

    public static TheoryData<string, byte[], bool> BrokenSequences() => new()
    {
        // Autobahn 5.1/5.2; RFC 6455 §5.5: "Control frames themselves MUST NOT be fragmented."
        { "5.1 fragmented Ping", [.. RawConnection.Frame(0x9, "fragment1"u8, fin: false), .. RawConnection.Frame(0x0, "fragment2"u8)], false },
        { "5.2 fragmented Pong", [.. RawConnection.Frame(0xA, "fragment1"u8, fin: false), .. RawConnection.Frame(0x0, "fragment2"u8)], false },
        { "fragmented Close", [.. RawConnection.Frame(0x8, RawConnection.ClosePayload(1000), fin: false), .. RawConnection.Frame(0x0, []) ], false },

        // Autobahn 5.9–5.14: a continuation with no message to continue, final or not.
        { "5.9 continuation (FIN) without start", [.. RawConnection.Frame(0x0, "fragment1"u8), .. RawConnection.Frame(0x1, "fragment2"u8)], false },
        { "5.12 continuation (no FIN) without start", [.. RawConnection.Frame(0x0, "fragment1"u8, fin: false), .. RawConnection.Frame(0x1, "fragment2"u8)], false },

        // Autobahn 5.15: a whole fragmented message, then a continuation after it ended.
        {
            "5.15 continuation after the message ended",
            [
                .. RawConnection.Frame(0x1, "fragment1"u8, fin: false), .. RawConnection.Frame(0x0, "fragment2"u8),
                .. RawConnection.Frame(0x0, "fragment3"u8, fin: false), .. RawConnection.Frame(0x0, "fragment4"u8),
            ],
            true
        },

        // Autobahn 5.16/5.17: sequences that start with a continuation.
        {
            "5.16 continuation, then a fragmented message",
            [
                .. RawConnection.Frame(0x0, "fragment1"u8, fin: false), .. RawConnection.Frame(0x1, "fragment2"u8, fin: false),
                .. RawConnection.Frame(0x0, "fragment3"u8),
            ],
            false
        },

        // Autobahn 5.18; RFC 6455 §5.4: fragments of one message are not interleaved with another.
        { "5.18 text inside fragmented text", [.. RawConnection.Frame(0x1, "fragment1"u8, fin: false), .. RawConnection.Frame(0x1, "fragment2"u8)], false },
        { "binary inside fragmented text", [.. RawConnection.Frame(0x1, "fragment1"u8, fin: false), .. RawConnection.Frame(0x2, "fragment2"u8)], false },
        { "text (no FIN) inside fragmented binary", [.. RawConnection.Frame(0x2, "fragment1"u8, fin: false), .. RawConnection.Frame(0x1, "fragment2"u8, fin: false)], false },
    };

    [Theory]
    [MemberData(nameof(BrokenSequences))]
    public async Task BrokenFragmentSequence_FailsWithProtocolError(string autobahnCase, byte[] frames, bool firstMessageCompletes)
    {
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync([.. frames, .. RawConnection.Frame(0x9, "after"u8)]);

        if (firstMessageCompletes)
        {
            await session.ExpectTextAsync("fragment1fragment2");
        }

        await session.ExpectFailedAsync(1002);
    }

    [Theory]
    [MemberData(nameof(BrokenSequences))]
    public async Task BrokenFragmentSequence_WrittenByteByByte_FailsWithProtocolError(string autobahnCase, byte[] frames, bool firstMessageCompletes)
    {
        // Autobahn 5.10/5.11/5.13/5.14: the same with tiny TCP writes.
        Assert.NotNull(autobahnCase);
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteViolationAsync(frames, chunkSize: 1);

        if (firstMessageCompletes)
        {
            await session.ExpectTextAsync("fragment1fragment2");
        }

        await session.ExpectFailedAsync(1002);
    }

    private static byte[] Fragments(byte opcode, byte[] payload, int fragments)
    {
        var frames = new List<byte>();
        for (int i = 0; i < fragments; i++)
        {
            int start = payload.Length * i / fragments;
            int end = payload.Length * (i + 1) / fragments;
            frames.AddRange(RawConnection.Frame(i == 0 ? opcode : (byte)0x0, payload.AsSpan(start, end - start), fin: i == fragments - 1));
        }

        return [.. frames];
    }

    private static async Task ExpectMessageAsync(ConformanceSession session, byte opcode, byte[] payload)
    {
        if (opcode == 0x1)
        {
            await session.ExpectTextAsync(Encoding.UTF8.GetString(payload));
        }
        else
        {
            await session.ExpectBinaryAsync(payload);
        }
    }
}
