using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Duplex.Connection;
using Duplex.Handshake.Rules;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Connection.Compression;

/// <summary>
/// permessage-deflate against .NET's own engine as the server (<c>DangerousDeflateOptions</c>) over a
/// loopback socket, in the manner of the Autobahn testsuite's sections 12 and 13: compressed echo of
/// texts and binaries from 16 B to 256 KiB, with and without context takeover, at several windows.
/// </summary>
public sealed class CompressionDotNetEngineTests
{
    private static readonly int[] s_sizes = [16, 64, 256, 1024, 4096, 16384, 65536, 131072, 262144];

    public static TheoryData<bool, bool, int, bool> Settings => new()
    {
        // client context takeover, server context takeover, server window bits, text
        { true, true, 15, true },
        { true, true, 15, false },
        { false, false, 15, true },
        { false, true, 9, false },
        { true, false, 12, true },
        { false, false, 9, false },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public async Task Echo_SizesFrom16BytesTo256KiB_RoundTripIntact(bool clientTakeover, bool serverTakeover, int serverWindowBits, bool text)
    {
        await using Pair pair = await Pair.CreateAsync(clientTakeover, serverTakeover, serverWindowBits);
        WebSocketMessageType type = text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        foreach (int size in s_sizes)
        {
            // Two of each size, so context takeover carries from one message to the next.
            for (int repeat = 0; repeat < 2; repeat++)
            {
                byte[] payload = CompressiblePayload(size, seed: size + repeat);
                await pair.Client.SendAsync(payload, type, pair.Token);
                (WebSocketMessageType receivedType, byte[] atServer) = await pair.ReceiveAtServerAsync();
                Assert.Equal(type, receivedType);
                Assert.True(payload.AsSpan().SequenceEqual(atServer), $"{size} bytes arrived altered at the server");

                await pair.Server.SendAsync(atServer, type, true, pair.Token);
                WebSocketMessage echoed = await pair.Client.ReceiveMessageAsync(pair.Token);
                Assert.Equal(type, echoed.MessageType);
                Assert.True(payload.AsSpan().SequenceEqual(text ? Encoding.UTF8.GetBytes(echoed.Text!) : echoed.Data.ToArray()), $"{size} bytes came back altered");
            }
        }
    }

    [Fact]
    public async Task StreamingReceive_SmallBuffer_InflatesAcrossCalls()
    {
        await using Pair pair = await Pair.CreateAsync(clientTakeover: true, serverTakeover: true, serverWindowBits: 15);
        for (int round = 0; round < 3; round++)
        {
            byte[] payload = CompressiblePayload(300_000, seed: round);
            await pair.Server.SendAsync(payload, WebSocketMessageType.Binary, true, pair.Token);
            using var received = new MemoryStream();
            byte[] buffer = new byte[1000];
            ValueWebSocketReceiveResult result;
            do
            {
                result = await pair.Client.ReceiveAsync(buffer, pair.Token);
                received.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            Assert.True(payload.AsSpan().SequenceEqual(received.ToArray()));
        }
    }

    [Fact]
    public async Task FragmentedFromServer_ReceivedWhole()
    {
        await using Pair pair = await Pair.CreateAsync(clientTakeover: true, serverTakeover: true, serverWindowBits: 15);
        byte[] whole = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("fragmented 😀 text across frames; ", 200)));
        int[] cuts = [0, 3, 1000, 1001, 5000, whole.Length];
        for (int i = 0; i < cuts.Length - 1; i++)
        {
            await pair.Server.SendAsync(whole.AsMemory(cuts[i], cuts[i + 1] - cuts[i]), WebSocketMessageType.Text, i == cuts.Length - 2, pair.Token);
        }

        WebSocketMessage message = await pair.Client.ReceiveMessageAsync(pair.Token);
        Assert.Equal(Encoding.UTF8.GetString(whole), message.Text);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MessageWriter_CompressedFragments_ServerSeesOneMessage(bool clientTakeover)
    {
        await using Pair pair = await Pair.CreateAsync(clientTakeover, serverTakeover: true, serverWindowBits: 15);
        for (int round = 0; round < 2; round++)
        {
            byte[] whole = CompressiblePayload(50_000, seed: round);
            await using (WebSocketMessageWriter writer = await pair.Client.CreateMessageWriterAsync(WebSocketMessageType.Binary, pair.Token))
            {
                await writer.WriteAsync(whole.AsMemory(0, 10), pair.Token);
                await writer.WriteAsync(whole.AsMemory(10, 30_000), pair.Token);
                await writer.WriteAsync(ReadOnlyMemory<byte>.Empty, pair.Token);
                await writer.CompleteAsync(whole.AsMemory(30_010), pair.Token);
            }

            await using (WebSocketMessageWriter writer = await pair.Client.CreateMessageWriterAsync(WebSocketMessageType.Text, pair.Token))
            {
                await writer.WriteAsync("ends with an empty frame"u8.ToArray(), pair.Token);
            }

            (WebSocketMessageType type, byte[] data) = await pair.ReceiveAtServerAsync();
            Assert.Equal(WebSocketMessageType.Binary, type);
            Assert.True(whole.AsSpan().SequenceEqual(data));
            (type, data) = await pair.ReceiveAtServerAsync();
            Assert.Equal(WebSocketMessageType.Text, type);
            Assert.Equal("ends with an empty frame", Encoding.UTF8.GetString(data));
        }
    }

    [Fact]
    public async Task LargeMessages_16MiB_BothWays()
    {
        await using Pair pair = await Pair.CreateAsync(clientTakeover: true, serverTakeover: true, serverWindowBits: 15, maxMessageSize: 32 * 1024 * 1024);
        byte[] payload = CompressiblePayload(16 * 1024 * 1024, seed: 7);
        Task send = pair.Client.SendBinaryAsync(payload, pair.Token).AsTask();
        (_, byte[] atServer) = await pair.ReceiveAtServerAsync();
        await send;
        Assert.True(payload.AsSpan().SequenceEqual(atServer));
        await pair.Server.SendAsync(atServer, WebSocketMessageType.Binary, true, pair.Token);
        WebSocketMessage echoed = await pair.Client.ReceiveMessageAsync(pair.Token);
        Assert.True(payload.AsSpan().SequenceEqual(echoed.Data.Span));
    }

    [Fact]
    public async Task NoContextTakeover_StateReleasedAfterEachMessage()
    {
        await using Pair pair = await Pair.CreateAsync(clientTakeover: false, serverTakeover: false, serverWindowBits: 15);
        Assert.False(pair.Client.HoldsCompressionState);
        byte[] payload = CompressiblePayload(4096, seed: 1);
        await pair.Client.SendBinaryAsync(payload, pair.Token);
        await pair.ReceiveAtServerAsync();
        await pair.Server.SendAsync(payload, WebSocketMessageType.Binary, true, pair.Token);
        await pair.Client.ReceiveMessageAsync(pair.Token);
        Assert.False(pair.Client.HoldsCompressionState);
    }

    [Fact]
    public async Task ContextTakeover_StateAllocatedOnFirstMessageOnly()
    {
        await using Pair pair = await Pair.CreateAsync(clientTakeover: true, serverTakeover: true, serverWindowBits: 15);
        Assert.False(pair.Client.HoldsCompressionState);
        await pair.Client.SendTextAsync("short", pair.Token);
        await pair.ReceiveAtServerAsync();
        Assert.False(pair.Client.HoldsCompressionState);
        await pair.Client.SendTextAsync(new string('a', 1000), pair.Token);
        await pair.ReceiveAtServerAsync();
        Assert.True(pair.Client.HoldsCompressionState);
    }

    [Fact]
    public async Task ContextTakeover_CompressorUnusedForAKeepAlivePeriod_Released_AndCompressionGoesOn()
    {
        await using Pair pair = await Pair.CreateAsync(clientTakeover: true, serverTakeover: true, serverWindowBits: 15);
        byte[] payload = CompressiblePayload(4096, seed: 2);
        await pair.Client.SendBinaryAsync(payload, pair.Token);
        Assert.True(pair.Client.HoldsCompressorState);

        // The first keepalive tick after a message only notes that it was used; the next one, with no
        // message between them, releases it.
        pair.Client.ReleaseIdleCompression();
        Assert.True(pair.Client.HoldsCompressorState);
        pair.Client.ReleaseIdleCompression();
        Assert.False(pair.Client.HoldsCompressorState);
        (_, byte[] first) = await pair.ReceiveAtServerAsync();
        Assert.True(payload.AsSpan().SequenceEqual(first));

        // The server keeps its context; the client's next message simply refers to none of it.
        await pair.Client.SendBinaryAsync(payload, pair.Token);
        (_, byte[] second) = await pair.ReceiveAtServerAsync();
        Assert.True(payload.AsSpan().SequenceEqual(second));
    }

    /// <summary>Text-like bytes (ASCII words from a small vocabulary), so the payload compresses like JSON does; valid UTF-8.</summary>
    internal static byte[] CompressiblePayload(int size, int seed)
    {
        string[] words = ["price", "\"symbol\":", "{\"id\":", "volume", "42.17", "true", "bid", "ask", "},", "timestamp"];
        var random = new Random(seed);
        var bytes = new byte[size];
        int i = 0;
        while (i < size)
        {
            string word = words[random.Next(words.Length)];
            for (int c = 0; c < word.Length && i < size; c++)
            {
                bytes[i++] = (byte)word[c];
            }

            if (i < size)
            {
                bytes[i++] = (byte)' ';
            }
        }

        return bytes;
    }

    private sealed class Pair : IAsyncDisposable
    {
        private readonly LoopbackStreams _streams;
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(30));

        private Pair(LoopbackStreams streams, WebSocket server, WebSocketConnection client)
        {
            _streams = streams;
            Server = server;
            Client = client;
        }

        public WebSocket Server { get; }

        public WebSocketConnection Client { get; }

        public CancellationToken Token => _timeout.Token;

        public static async Task<Pair> CreateAsync(bool clientTakeover, bool serverTakeover, int serverWindowBits, long maxMessageSize = 1024 * 1024)
        {
            LoopbackStreams streams = await LoopbackStreams.CreateAsync();
            WebSocket server = WebSocket.CreateFromStream(streams.Server, new WebSocketCreationOptions
            {
                IsServer = true,
                KeepAliveInterval = TimeSpan.Zero,
                DangerousDeflateOptions = new WebSocketDeflateOptions
                {
                    ClientContextTakeover = clientTakeover,
                    ServerContextTakeover = serverTakeover,
                    ServerMaxWindowBits = serverWindowBits,
                },
            });
            var agreed = new PerMessageDeflateParameters(!clientTakeover, !serverTakeover, serverWindowBits, 15);
            WebSocketConnection client = WebSocketConnection.FromStreamWithCompression(
                streams.Client, new WebSocketConnectionOptions { MaxMessageSize = maxMessageSize }, agreed);
            return new Pair(streams, server, client);
        }

        public async Task<(WebSocketMessageType Type, byte[] Data)> ReceiveAtServerAsync()
        {
            using var message = new MemoryStream();
            byte[] buffer = new byte[64 * 1024];
            while (true)
            {
                ValueWebSocketReceiveResult result = await Server.ReceiveAsync(buffer.AsMemory(), Token);
                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    return (result.MessageType, message.ToArray());
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            Client.Dispose();
            Server.Dispose();
            await _streams.DisposeAsync();
            _timeout.Dispose();
        }
    }
}
