using System.Net.WebSockets;
using Duplex.Connection;
using Duplex.Tests.Connection.Compression;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>
/// permessage-deflate negotiated with real servers and round trips through them: whole, fragmented,
/// streamed and 16 MiB messages, with each combination of the parameters the client can offer.
/// </summary>
public abstract class CompressionInteropTests
{
    /// <summary>Offers: none of the parameters, each of them, and all of them.</summary>
    public static TheoryData<bool, bool, int?> Offers => new()
    {
        { false, false, null },
        { true, false, null },
        { false, true, null },
        { false, false, 10 },
        { true, true, 11 },
    };

    /// <summary>The peer's echo endpoint.</summary>
    protected abstract Uri EchoUri { get; }

    /// <summary>What the peer answered to <paramref name="offer"/>, checked by each peer's tests.</summary>
    protected abstract void AssertAnswer(string? answer, WebSocketCompressionOptions offer);

    [Theory]
    [MemberData(nameof(Offers))]
    public async Task Echo_EachOffer_NegotiatedAndRoundTripsIntact(bool clientNoContext, bool serverNoContext, int? serverWindowBits)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var compression = new WebSocketCompressionOptions
        {
            Enabled = true,
            ClientNoContextTakeover = clientNoContext,
            ServerNoContextTakeover = serverNoContext,
            ServerMaxWindowBits = serverWindowBits,
        };
        await using WebSocketConnection client = await ConnectAsync(compression, timeout.Token);
        Assert.True(client.CompressionAgreed);
        AssertAnswer(client.HandshakeResponse!.Extensions, compression);

        foreach (int size in (int[])[10, 200, 5000, 70_000])
        {
            for (int repeat = 0; repeat < 2; repeat++)
            {
                byte[] payload = CompressionDotNetEngineTests.CompressiblePayload(size, seed: size + repeat);
                string text = System.Text.Encoding.UTF8.GetString(payload);
                await client.SendTextAsync(text, timeout.Token);
                Assert.Equal(text, (await client.ReceiveMessageAsync(timeout.Token)).Text);
                await client.SendBinaryAsync(payload, timeout.Token);
                WebSocketMessage echoed = await client.ReceiveMessageAsync(timeout.Token);
                Assert.True(payload.AsSpan().SequenceEqual(echoed.Data.Span));
            }
        }
    }

    [Fact]
    public async Task FragmentedSendAndStreamedReceive_RoundTripIntact()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await using WebSocketConnection client = await ConnectAsync(new WebSocketCompressionOptions { Enabled = true }, timeout.Token);
        byte[] payload = CompressionDotNetEngineTests.CompressiblePayload(200_000, seed: 3);
        for (int round = 0; round < 2; round++)
        {
            await using (WebSocketMessageWriter writer = await client.CreateMessageWriterAsync(WebSocketMessageType.Binary, timeout.Token))
            {
                for (int offset = 0; offset < payload.Length; offset += 50_000)
                {
                    await writer.WriteAsync(payload.AsMemory(offset, 50_000), timeout.Token);
                }
            }

            using var received = new MemoryStream();
            byte[] buffer = new byte[4096];
            ValueWebSocketReceiveResult result;
            do
            {
                result = await client.ReceiveAsync(buffer, timeout.Token);
                received.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);
            Assert.True(payload.AsSpan().SequenceEqual(received.ToArray()));
        }
    }

    [Fact]
    public async Task LargeMessage_16MiB_RoundTripsIntact()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using WebSocketConnection client = await ConnectAsync(new WebSocketCompressionOptions { Enabled = true }, timeout.Token, maxMessageSize: 32 * 1024 * 1024);
        byte[] payload = CompressionDotNetEngineTests.CompressiblePayload(16 * 1024 * 1024, seed: 16);
        await client.SendBinaryAsync(payload, timeout.Token);
        WebSocketMessage echoed = await client.ReceiveMessageAsync(timeout.Token);
        Assert.True(payload.AsSpan().SequenceEqual(echoed.Data.Span));
    }

    /// <summary>The offer's parameters, for the test output.</summary>
    protected static string Describe(WebSocketCompressionOptions offer) =>
        $"client_no_context_takeover={offer.ClientNoContextTakeover}, server_no_context_takeover={offer.ServerNoContextTakeover}, server_max_window_bits={offer.ServerMaxWindowBits?.ToString() ?? "none"}";

    private async Task<WebSocketConnection> ConnectAsync(WebSocketCompressionOptions compression, CancellationToken cancellationToken, long maxMessageSize = 1024 * 1024)
    {
        var client = new WebSocketConnection(new WebSocketConnectionOptions
        {
            MaxMessageSize = maxMessageSize,
            KeepAliveInterval = Timeout.InfiniteTimeSpan,
            Compression = compression,
        });
        try
        {
            await client.ConnectAsync(EchoUri, cancellationToken);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}
