using Duplex.Client;

namespace Duplex.Samples;

/// <summary>The quick test: create and connect in one call, send, read one reply with the pull API.</summary>
internal static class OneCallSample
{
    public static async Task RunAsync(SampleServer server, CancellationToken cancellationToken)
    {
        await using WebSocketClient client = await WebSocketClient.CreateConnectedAsync(
            server.Ws("/echo"),
            new Dictionary<string, string> { ["X-Client-Name"] = "one-call" },
            cancellationToken: cancellationToken);

        // The pull API sees what arrives after its first MoveNextAsync.
        await using IAsyncEnumerator<WebSocketClientMessage> messages = client.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        ValueTask<bool> next = messages.MoveNextAsync();
        await client.SendTextAsync("is anyone there?", cancellationToken);
        if (await next)
        {
            Console.WriteLine($"  received: {messages.Current.Text}");
        }

        await client.CloseAsync(cancellationToken: cancellationToken);
    }
}
