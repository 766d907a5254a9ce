using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Client;

/// <summary>
/// <c>SendJsonAsync</c> serializes into a pooled buffer: the bytes on the wire must be exactly what
/// <see cref="JsonSerializer.SerializeToUtf8Bytes{TValue}(TValue, JsonSerializerOptions?)"/> makes, and a message that
/// waits in the outbox must keep its own bytes while later JSON sends reuse the buffer.
/// </summary>
public sealed class WebSocketClientJsonSendTests : RawServerClientTestBase
{
    private static readonly TestOrder s_order = new("café <b>&\"quoted\"</b> ☃ 😀", 42, ["a", "b\n", "ü"]);

    public static TheoryData<string> OptionSets => ["default", "indented", "tabs", "relaxed", "camel"];

    [Theory]
    [MemberData(nameof(OptionSets))]
    public async Task SendJsonAsync_PutsExactlyTheSerializersBytesOnTheWire(string optionSet)
    {
        JsonSerializerOptions options = Options(optionSet);
        var context = new TestJsonContext(new JsonSerializerOptions(options));
        (WebSocketClient client, RawConnection server) = await ConnectAsync();
        await using (client)
        {
            await client.SendJsonAsync(s_order, context.TestOrder, Deadline.Token);
#pragma warning disable IL2026, IL3050 // The reflection-based overload is what is under test here.
            await client.SendJsonAsync(s_order, options, Deadline.Token);
#pragma warning restore IL2026, IL3050

            // Several sends on one thread reuse its writer: each must start from an empty buffer.
            await client.SendJsonAsync(s_order, context.TestOrder, Deadline.Token);

            byte[] expectedGenerated = JsonSerializer.SerializeToUtf8Bytes(s_order, context.TestOrder);
#pragma warning disable IL2026, IL3050
            byte[] expectedReflection = JsonSerializer.SerializeToUtf8Bytes(s_order, options);
#pragma warning restore IL2026, IL3050
            Assert.Equal(expectedGenerated, await ReadTextPayloadAsync(server));
            Assert.Equal(expectedReflection, await ReadTextPayloadAsync(server));
            Assert.Equal(expectedGenerated, await ReadTextPayloadAsync(server));
        }
    }

    [Fact]
    public async Task SendJsonAsync_LargerThanTheFirstBuffer_ArrivesWhole()
    {
        var big = new TestOrder(new string('x', 100_000), 7, Enumerable.Range(0, 2_000).Select(i => $"item {i}").ToArray());
        (WebSocketClient client, RawConnection server) = await ConnectAsync();
        await using (client)
        {
            await client.SendJsonAsync(big, TestJsonContext.Default.TestOrder, Deadline.Token);
            await client.SendJsonAsync(s_order, TestJsonContext.Default.TestOrder, Deadline.Token);
            Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(big, TestJsonContext.Default.TestOrder), await ReadTextPayloadAsync(server));
            Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(s_order, TestJsonContext.Default.TestOrder), await ReadTextPayloadAsync(server));
        }
    }

    [Fact]
    public async Task SendJsonAsync_ThatFailsToSerialize_Throws_AndTheNextJsonSendIsIntact()
    {
        var shallow = new JsonSerializerOptions { MaxDepth = 1 };
        var context = new TestJsonContext(shallow);
        (WebSocketClient client, RawConnection server) = await ConnectAsync();
        await using (client)
        {
            // The list inside the object is deeper than one level.
            await Assert.ThrowsAsync<JsonException>(() => client.SendJsonAsync(s_order, context.TestOrder, Deadline.Token).AsTask());
            await client.SendJsonAsync(s_order, TestJsonContext.Default.TestOrder, Deadline.Token);
            Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(s_order, TestJsonContext.Default.TestOrder), await ReadTextPayloadAsync(server));
        }
    }

    [Fact]
    public async Task JsonSentWhileReconnecting_WaitsInTheOutboxWithItsOwnBytes_AndGoesOutIntact()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(300);
            o.Reconnect.MaxDelay = TimeSpan.FromSeconds(1);
        }));
        Task<RawConnection> firstAccept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        (await firstAccept).Abort();
        // Disconnected only for the reconnect delay, then Connecting: the server completes no handshake until
        // the test accepts one, so either way sends wait in the outbox.
        await ClientTestKit.WaitUntilAsync(() => client.State is WebSocketClientState.Disconnected or WebSocketClientState.Connecting, "the client notices the loss");

        // All sent from this one thread, one after the other: each would overwrite the last in a shared buffer.
        TestOrder[] orders = Enumerable.Range(0, 5).Select(i => s_order with { Id = i, Type = new string((char)('a' + i), 10 + i) }).ToArray();
        Task[] sends = orders.Select(order => client.SendJsonAsync(order, TestJsonContext.Default.TestOrder, Deadline.Token).AsTask()).ToArray();
        await ClientTestKit.WaitUntilAsync(() => client.OutboxCount == orders.Length, "the messages wait in the outbox");

        RawConnection second = await Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        foreach (TestOrder order in orders)
        {
            Assert.Equal(JsonSerializer.SerializeToUtf8Bytes(order, TestJsonContext.Default.TestOrder), await ReadTextPayloadAsync(second));
        }

        await Task.WhenAll(sends).WaitAsync(Deadline.Token);
    }

    [Fact]
    public async Task JsonDroppedFromTheOutbox_ReachesTheDropCallbackIntact()
    {
        var dropped = new List<string>();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.Reconnect.InitialDelay = TimeSpan.FromSeconds(30);
            o.Reconnect.MaxDelay = TimeSpan.FromSeconds(30);
            o.OutboxCapacity = 1;
            o.OutboxOverflow = OutboxOverflowPolicy.DropOldest;
            o.MessageDropped = m => { lock (dropped) { dropped.Add(Encoding.UTF8.GetString(m.Data.Span)); } };
        }));
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        (await accept).Abort();
        await ClientTestKit.WaitUntilAsync(() => client.State == WebSocketClientState.Disconnected, "the client notices the loss");

        TestOrder first = s_order with { Type = "first" };
        Task firstSend = client.SendJsonAsync(first, TestJsonContext.Default.TestOrder, Deadline.Token).AsTask();
        Task secondSend = client.SendJsonAsync(s_order with { Type = "second, longer than the first" }, TestJsonContext.Default.TestOrder, Deadline.Token).AsTask();
        await Assert.ThrowsAsync<WebSocketMessageDroppedException>(() => firstSend.WaitAsync(Deadline.Token));
        await ClientTestKit.WaitUntilAsync(() => { lock (dropped) { return dropped.Count == 1; } }, "the first message is reported dropped");
        Assert.Equal(Encoding.UTF8.GetString(JsonSerializer.SerializeToUtf8Bytes(first, TestJsonContext.Default.TestOrder)), dropped[0]);
        Assert.False(secondSend.IsCompleted);
    }

    private static JsonSerializerOptions Options(string optionSet) => optionSet switch
    {
        "default" => new JsonSerializerOptions(),
        "indented" => new JsonSerializerOptions { WriteIndented = true },
        "tabs" => new JsonSerializerOptions { WriteIndented = true, IndentCharacter = '\t', IndentSize = 1, NewLine = "\n" },
        "relaxed" => new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping },
        "camel" => new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase },
        _ => throw new ArgumentOutOfRangeException(nameof(optionSet)),
    };

    private async Task<(WebSocketClient Client, RawConnection Server)> ConnectAsync()
    {
        var client = new WebSocketClient(ClientTestKit.FastOptions());
        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        return (client, await accept);
    }

    private async Task<byte[]> ReadTextPayloadAsync(RawConnection server)
    {
        RawFrame frame = await server.ReadFrameAsync(cancellationToken: Deadline.Token);
        Assert.Equal(0x1, frame.Opcode);
        Assert.True(frame.Fin);
        return frame.Payload;
    }
}
