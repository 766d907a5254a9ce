using System.IO.Compression;
using System.Net.WebSockets;
using System.Text;
using Duplex.Connection;
using Duplex.Tests.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Connection.Compression;

/// <summary>
/// permessage-deflate on the wire, against the raw scripted server: what is offered, RSV1 on the first
/// frame only, the threshold, the tail, and the hostile cases (RSV1 where it has no meaning, bombs,
/// corrupt data).
/// </summary>
public sealed class CompressionWireTests : IAsyncLifetime
{
    private readonly RawWebSocketServer _server = new();
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));
    private WebSocketConnection? _client;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        await _server.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Disabled_NoExtensionOffered()
    {
        (_, RawConnection raw) = await ConnectAsync(enabled: false, answer: null);
        Assert.False(raw.Request!.Headers.ContainsKey("Sec-WebSocket-Extensions"));
    }

    [Fact]
    public async Task Enabled_ServerDeclines_ConnectionUncompressed()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: null);
        Assert.Equal("permessage-deflate", raw.Request!.Headers["Sec-WebSocket-Extensions"]);
        Assert.False(client.CompressionAgreed);
        await client.SendTextAsync(new string('a', 500), _timeout.Token);
        RawFrame frame = await raw.ReadFrameAsync(cancellationToken: _timeout.Token);
        Assert.Equal(0, frame.Rsv);
        Assert.Equal(500, frame.Payload.Length);
    }

    [Fact]
    public async Task Agreed_MessageOverThreshold_SentWithRsv1AndWithoutTail()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate");
        Assert.True(client.CompressionAgreed);
        Assert.Equal("permessage-deflate", client.HandshakeResponse!.Extensions);
        string text = string.Concat(Enumerable.Repeat("{\"price\":42.17,\"symbol\":\"ABC\"}", 20));
        await client.SendTextAsync(text, _timeout.Token);
        await client.SendTextAsync("tiny", _timeout.Token);

        RawFrame compressed = await raw.ReadFrameAsync(cancellationToken: _timeout.Token);
        Assert.Equal(0x40, compressed.Rsv);
        Assert.True(compressed.Payload.Length < text.Length / 4);
        Assert.False(compressed.Payload.AsSpan().EndsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0xFF, 0xFF]));
        Assert.Equal(text, Encoding.UTF8.GetString(Inflate(compressed.Payload)));

        RawFrame plain = await raw.ReadFrameAsync(cancellationToken: _timeout.Token);
        Assert.Equal(0, plain.Rsv);
        Assert.Equal("tiny", plain.Text);
    }

    [Fact]
    public async Task Agreed_MessageWriter_Rsv1OnFirstFrameOnly()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate");
        await using (WebSocketMessageWriter writer = await client.CreateMessageWriterAsync(WebSocketMessageType.Binary, _timeout.Token))
        {
            await writer.WriteAsync(new byte[300], _timeout.Token);
            await writer.CompleteAsync(new byte[300], _timeout.Token);
        }

        RawFrame first = await raw.ReadFrameAsync(cancellationToken: _timeout.Token);
        RawFrame last = await raw.ReadFrameAsync(cancellationToken: _timeout.Token);
        Assert.Equal((0x40, false, 0x2), (first.Rsv, first.Fin, first.Opcode));
        Assert.Equal((0, true, 0x0), (last.Rsv, last.Fin, last.Opcode));
        Assert.Equal(new byte[600], Inflate([.. first.Payload, .. last.Payload]));
    }

    [Fact]
    public async Task Agreed_CompressedMessagesFromServer_Inflated()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate; server_no_context_takeover");
        byte[] first = Deflate("hello, compressed world");
        await raw.SendFrameAsync(0x1, first, rsv: 0x40, cancellationToken: _timeout.Token);

        // Fragmented: RSV1 on the first frame only, the compressed bytes split across three frames.
        byte[] second = Deflate(new string('z', 10_000));
        await raw.SendFrameAsync(0x2, second.AsMemory(0, 3), fin: false, rsv: 0x40, cancellationToken: _timeout.Token);
        await raw.SendFrameAsync(0x0, second.AsMemory(3, 2), fin: false, cancellationToken: _timeout.Token);
        await raw.SendFrameAsync(0x0, second.AsMemory(5), cancellationToken: _timeout.Token);
        await raw.SendTextAsync("plain", _timeout.Token);

        Assert.Equal("hello, compressed world", (await client.ReceiveMessageAsync(_timeout.Token)).Text);
        Assert.Equal(Encoding.ASCII.GetBytes(new string('z', 10_000)), (await client.ReceiveMessageAsync(_timeout.Token)).Data.ToArray());
        Assert.Equal("plain", (await client.ReceiveMessageAsync(_timeout.Token)).Text);
    }

    [Fact]
    public async Task Rsv1OnContinuationFrame_FailsWith1002()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate");
        byte[] data = Deflate("abcdef");
        await raw.SendFrameAsync(0x1, data.AsMemory(0, 2), fin: false, rsv: 0x40, cancellationToken: _timeout.Token);
        await raw.SendFrameAsync(0x0, data.AsMemory(2), rsv: 0x40, cancellationToken: _timeout.Token);
        await AssertFailsAsync(client, raw, WebSocketCloseStatus.ProtocolError);
    }

    [Fact]
    public async Task Rsv1OnControlFrame_FailsWith1002()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate");
        await raw.SendFrameAsync(0x9, "ping"u8.ToArray(), rsv: 0x40, cancellationToken: _timeout.Token);
        await AssertFailsAsync(client, raw, WebSocketCloseStatus.ProtocolError);
    }

    [Fact]
    public async Task Rsv1WithoutTheExtension_FailsWith1002()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: null);
        await raw.SendFrameAsync(0x1, Deflate("abc"), rsv: 0x40, cancellationToken: _timeout.Token);
        await AssertFailsAsync(client, raw, WebSocketCloseStatus.ProtocolError);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Bomb_InflatesPastTheLimit_FailsWith1009WithinTheLimit(bool streaming)
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate", maxMessageSize: 64 * 1024);

        // 64 MiB of zeros compress to about 64 KiB; the decoder sees a small frame.
        byte[] bomb = Deflate(new byte[64 * 1024 * 1024]);
        Assert.True(bomb.Length < 64 * 1024);
        await raw.SendFrameAsync(0x2, bomb, rsv: 0x40, cancellationToken: _timeout.Token);
        if (streaming)
        {
            long total = 0;
            byte[] buffer = new byte[8 * 1024];
            var error = await Assert.ThrowsAsync<WebSocketProtocolException>(async () =>
            {
                while (true)
                {
                    total += (await client.ReceiveAsync(buffer, _timeout.Token)).Count;
                }
            });
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, error.CloseStatus);
            Assert.True(total <= 64 * 1024, $"{total} bytes were delivered");
        }
        else
        {
            var error = await Assert.ThrowsAsync<WebSocketProtocolException>(() => client.ReceiveMessageAsync(_timeout.Token).AsTask());
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, error.CloseStatus);
        }

        RawCloseFrame close = await raw.ReadCloseFrameAsync(skipOtherFrames: true, cancellationToken: _timeout.Token);
        Assert.Equal((ushort?)1009, close.Code);
    }

    [Fact]
    public async Task CorruptData_FailsWith1007()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate");
        await raw.SendFrameAsync(0x2, new byte[] { 0xFF, 0xFF, 0xFF, 0x01, 0x02 }, rsv: 0x40, cancellationToken: _timeout.Token);
        await AssertFailsAsync(client, raw, WebSocketCloseStatus.InvalidPayloadData);
    }

    [Fact]
    public async Task InvalidUtf8AfterInflating_FailsWith1007()
    {
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate");
        await raw.SendFrameAsync(0x1, Deflate(new byte[] { 0x61, 0xC3, 0x28, 0x62 }), rsv: 0x40, cancellationToken: _timeout.Token);
        await AssertFailsAsync(client, raw, WebSocketCloseStatus.InvalidPayloadData);
    }

    [Fact]
    public async Task InvalidAnswer_FailsTheConnectAsInvalidHandshake()
    {
        using var client = new WebSocketConnection(new WebSocketConnectionOptions { Compression = { Enabled = true } });
        Task connect = client.ConnectAsync(_server.Uri, _timeout.Token);
        await using RawConnection raw = await _server.AcceptAsync(cancellationToken: _timeout.Token);
        await raw.AcceptHandshakeAsync(extensions: "permessage-deflate; client_max_window_bits=10", cancellationToken: _timeout.Token);
        var error = await Assert.ThrowsAsync<WebSocketConnectException>(() => connect);
        Assert.Equal(WebSocketConnectError.InvalidHandshake, error.Error);
        Assert.Contains("client_max_window_bits", error.Message);
    }

    [Fact]
    public async Task Agreed_PeerNeverReads_TheSendBufferLimitCountsTheUncompressedCopies_OfTheMessagesItKeeps()
    {
        const int Limit = 64 * 1024;
        const int Size = 8 * 1024;
        (WebSocketConnection client, RawConnection raw) = await ConnectAsync(enabled: true, answer: "permessage-deflate", sendBufferLimit: Limit);

        // Text from 16 letters deflates to about half its size. The server never reads: once the sockets' buffers
        // are full, the sends fill the send buffer, which keeps each compressed message's uncompressed copy so
        // that a message never written can be handed back as sent.
        var random = new Random(7);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_timeout.Token);
        var sent = new List<string>();
        Task sending = Task.Run(async () =>
        {
            while (true)
            {
                string text = string.Create(Size, random, static (span, r) =>
                {
                    for (int i = 0; i < span.Length; i++)
                    {
                        span[i] = (char)('a' + r.Next(16));
                    }
                });
                await client.SendTextAsync(text, stop.Token);
                sent.Add(text);
            }
        });

        await ClientTestKit.WaitUntilAsync(() => client.HeldSendBytes >= Limit, "the sends filled the send buffer");
        raw.Abort();
        await Assert.ThrowsAnyAsync<Exception>(() => sending);
        IReadOnlyList<WebSocketMessage> unsent = client.TakeUnsentMessages();

        // Frames and copies together within the limit, plus the one message that crossed it.
        Assert.NotEmpty(unsent);
        long copies = unsent.Sum(m => (long)m.Text!.Length); // one byte per character
        Assert.True(copies <= Limit + Size, $"{unsent.Count} unsent messages kept {copies} bytes of copies beside their frames.");
        Assert.Equal(sent.TakeLast(unsent.Count), unsent.Select(m => m.Text));
    }

    private async Task AssertFailsAsync(WebSocketConnection client, RawConnection raw, WebSocketCloseStatus expected)
    {
        var error = await Assert.ThrowsAsync<WebSocketProtocolException>(() => client.ReceiveMessageAsync(_timeout.Token).AsTask());
        Assert.Equal(expected, error.CloseStatus);
        RawCloseFrame close = await raw.ReadCloseFrameAsync(skipOtherFrames: true, cancellationToken: _timeout.Token);
        Assert.Equal((ushort?)expected, close.Code);
    }

    private async Task<(WebSocketConnection Client, RawConnection Raw)> ConnectAsync(
        bool enabled, string? answer, long maxMessageSize = 1024 * 1024, int sendBufferLimit = 1024 * 1024)
    {
        var client = new WebSocketConnection(new WebSocketConnectionOptions
        {
            MaxMessageSize = maxMessageSize,
            SendBufferLimit = sendBufferLimit,
            KeepAliveInterval = Timeout.InfiniteTimeSpan,
            Compression = { Enabled = enabled },
        });
        _client = client;
        Task connect = client.ConnectAsync(_server.Uri, _timeout.Token);
        RawConnection raw = await _server.AcceptAsync(cancellationToken: _timeout.Token);
        await raw.AcceptHandshakeAsync(extensions: answer, cancellationToken: _timeout.Token);
        await connect;
        return (client, raw);
    }

    /// <summary>RFC 7692 §7.2.1 on the test's side: deflate, sync-flush, drop the 00 00 FF FF.</summary>
    internal static byte[] Deflate(string text) => Deflate(Encoding.UTF8.GetBytes(text));

    internal static byte[] Deflate(byte[] data)
    {
        using var output = new MemoryStream();
        using var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true);
        deflate.Write(data);
        deflate.Flush();
        byte[] flushed = output.ToArray();
        Assert.True(flushed.AsSpan().EndsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0xFF, 0xFF]));
        return flushed[..^4];
    }

    /// <summary>RFC 7692 §7.2.2 on the test's side: append 00 00 FF FF and inflate.</summary>
    internal static byte[] Inflate(byte[] payload)
    {
        using var input = new MemoryStream([.. payload, 0x00, 0x00, 0xFF, 0xFF]);
        using var inflate = new DeflateStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        inflate.CopyTo(output);
        return output.ToArray();
    }
}
