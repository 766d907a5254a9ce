using Duplex.Client;
using Duplex.Manager;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>The client layer and the manager pass the compression options through to every connection.</summary>
public sealed class KestrelCompressionClientLayerTests(KestrelDeflateFixture kestrel) : IClassFixture<KestrelDeflateFixture>
{
    [Fact]
    public async Task Client_CompressionEnabled_NegotiatedAndMessagesEchoed()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var options = new WebSocketClientOptions { Connection = { Compression = { Enabled = true, ClientNoContextTakeover = true } } };
        await using var client = new WebSocketClient(options);
        string? extensions = null;
        client.OnConnected((context, _) =>
        {
            extensions = context.Response.Extensions;
            return ValueTask.CompletedTask;
        });
        await client.ConnectAsync(kestrel.Host.GetUri(KestrelDeflateFixture.Path), cancellationToken: timeout.Token);
        string text = string.Concat(Enumerable.Repeat("{\"price\":42.17},", 100));
        await client.SendTextAsync(text, timeout.Token);
        await foreach (WebSocketClientMessage message in client.ReadAllAsync(timeout.Token))
        {
            Assert.Equal(text, message.Text);
            break;
        }

        Assert.Equal("permessage-deflate; client_no_context_takeover", extensions);
    }

    [Fact]
    public async Task Manager_DefaultOptionsWithCompression_EveryClientOffersIt()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await using var manager = new WebSocketClientManager(() => new WebSocketClientOptions { Connection = { Compression = { Enabled = true } } });
        WebSocketClient client = manager.CreateClient("feed", kestrel.Host.GetUri(KestrelDeflateFixture.Path + "?manager=1"));
        IReadOnlyDictionary<string, Exception?> outcomes = await manager.ConnectAllAsync(timeout.Token);
        Assert.Null(outcomes["feed"]);
        await client.SendTextAsync(new string('m', 500), timeout.Token);
        await foreach (WebSocketClientMessage message in client.ReadAllAsync(timeout.Token))
        {
            Assert.Equal(new string('m', 500), message.Text);
            break;
        }

        RecordedRequest request = kestrel.Host.Requests.Last(r => r.QueryString == "?manager=1");
        Assert.Equal("permessage-deflate", request.Headers["Sec-WebSocket-Extensions"]);
    }
}
