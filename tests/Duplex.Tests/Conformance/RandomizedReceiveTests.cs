using System.Net.WebSockets;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Many messages of random sizes (empty to 400 KB), fragmented at random points with Pings between fragments,
/// written in random pieces with pauses, while the application receives each one in a randomly chosen way:
/// whole, or in pieces into buffers whose size changes from call to call (so large frames go into the
/// caller's buffer, are handed back, go through the loop's chunks). Every message must arrive whole, in order
/// and of its type, and every Ping must be answered. Each seed is one session; a failure names its seed.
/// </summary>
public sealed class RandomizedReceiveTests(ITestOutputHelper output)
{
    private const int MessagesPerSession = 14;

    // Multi-byte characters of every length, so fragment boundaries split UTF-8 sequences.
    private static readonly string[] s_textPieces = ["a", "bc", "é", "€", "😀", "xyz", " "];

    public static TheoryData<int> Seeds => [.. Enumerable.Range(1, 40)];

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task RandomTraffic_ReceivedInRandomWays_ArrivesWholeAndInOrder(int seed)
    {
        output.WriteLine($"seed {seed}");
        var random = new Random(seed);
        (byte Opcode, byte[] Payload)[] messages = [.. Enumerable.Range(0, MessagesPerSession).Select(_ => RandomMessage(random))];
        (byte[] wire, List<byte[]> pings) = Script(messages, random);

        // The receiving side draws from a generator of its own, so its choices do not depend on timing.
        var receiverRandom = new Random(seed * 7919);
        await using ConformanceSession session = await ConformanceSession.OpenAsync(testTimeout: TimeSpan.FromSeconds(30));
        Task writing = WriteInRandomPiecesAsync(session, wire, new Random(seed * 31));

        for (int i = 0; i < messages.Length; i++)
        {
            (WebSocketMessageType type, byte[] payload) = await ReceiveOneAsync(session, receiverRandom);
            Assert.True(
                type == (messages[i].Opcode == 0x1 ? WebSocketMessageType.Text : WebSocketMessageType.Binary),
                $"seed {seed}, message {i}: type {type}");
            Assert.True(messages[i].Payload.AsSpan().SequenceEqual(payload), $"seed {seed}, message {i}: {payload.Length} bytes arrived, {messages[i].Payload.Length} sent, or altered");
        }

        await writing.WaitAsync(session.Token);
        foreach (byte[] ping in pings)
        {
            RawFrame pong = await session.ReadClientFrameAsync(0xA);
            Assert.Equal(ping, pong.Payload);
        }

        await session.CloseFromServerAsync();
    }

    private static (byte Opcode, byte[] Payload) RandomMessage(Random random)
    {
        int size = random.Next(5) switch
        {
            0 => random.Next(0, 3),
            1 => random.Next(3, 300),
            2 => random.Next(300, 9_000),
            3 => random.Next(9_000, 60_000),
            _ => random.Next(60_000, 400_000),
        };

        if (random.Next(2) == 0)
        {
            byte[] bytes = new byte[size];
            random.NextBytes(bytes);
            return (0x2, bytes);
        }

        var text = new StringBuilder(size);
        for (int bytes = 0; bytes < size;)
        {
            string piece = s_textPieces[random.Next(s_textPieces.Length)];
            text.Append(piece);
            bytes += Encoding.UTF8.GetByteCount(piece);
        }

        return (0x1, Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>The server's bytes: each message in 1–4 frames cut at random points, a Ping now and then between them.</summary>
    private static (byte[] Wire, List<byte[]> Pings) Script((byte Opcode, byte[] Payload)[] messages, Random random)
    {
        using var wire = new MemoryStream();
        var pings = new List<byte[]>();
        foreach ((byte opcode, byte[] payload) in messages)
        {
            int frames = payload.Length < 2 ? 1 : random.Next(1, 5);
            int[] cuts = [.. Enumerable.Range(0, frames - 1).Select(_ => random.Next(1, payload.Length)).Order().Append(payload.Length)];
            int start = 0;
            for (int f = 0; f < cuts.Length; f++)
            {
                wire.Write(RawConnection.Frame(f == 0 ? opcode : (byte)0x0, payload.AsSpan(start, cuts[f] - start), fin: f == cuts.Length - 1));
                start = cuts[f];
                if (random.Next(4) == 0)
                {
                    // RFC 6455 §5.4: control frames may come between the fragments of a message.
                    byte[] ping = Encoding.ASCII.GetBytes($"p{pings.Count}");
                    pings.Add(ping);
                    wire.Write(RawConnection.Frame(0x9, ping));
                }
            }
        }

        return (wire.ToArray(), pings);
    }

    private static async Task WriteInRandomPiecesAsync(ConformanceSession session, byte[] wire, Random random)
    {
        int offset = 0;
        while (offset < wire.Length)
        {
            int piece = Math.Min(wire.Length - offset, random.Next(3) switch
            {
                0 => random.Next(1, 64),
                1 => random.Next(64, 16 * 1024),
                _ => random.Next(16 * 1024, 256 * 1024),
            });
            await session.Raw.WriteRawAsync(wire.AsMemory(offset, piece), session.Token);
            offset += piece;
            if (random.Next(3) == 0)
            {
                // Lets the receiver catch up and wait in the middle of a frame, where a large one is handed to it.
                await Task.Delay(random.Next(1, 4), session.Token);
            }
        }
    }

    /// <summary>Receives one message whole, or in pieces into buffers of sizes chosen anew for every call.</summary>
    private static async Task<(WebSocketMessageType Type, byte[] Payload)> ReceiveOneAsync(ConformanceSession session, Random random)
    {
        if (random.Next(4) == 0)
        {
            WebSocketMessage whole = await session.ReceiveAsync();
            return (whole.MessageType, whole.MessageType == WebSocketMessageType.Text ? Encoding.UTF8.GetBytes(whole.Text!) : whole.Data.ToArray());
        }

        using var received = new MemoryStream();
        int[] sizes = [1, 7, 100, 4096, 8192, 8193, 65536, 1024 * 1024];
        while (true)
        {
            // Tiny buffers only while the message is small, to keep the number of calls bounded.
            int size = sizes[random.Next(received.Length < 4096 ? 0 : 2, sizes.Length)];
            byte[] buffer = new byte[size];
            ValueWebSocketReceiveResult result = await session.Client.ReceiveAsync(buffer, session.Token).AsTask().WaitAsync(TestTimeouts.Default, session.Token);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            received.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                return (result.MessageType, received.ToArray());
            }
        }
    }
}
