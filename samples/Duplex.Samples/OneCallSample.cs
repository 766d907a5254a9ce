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

        int seen = 0;
        await using IAsyncEnumerator<WebSocketClientMessage> messages = client.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        ValueTask<bool> next = messages.MoveNextAsync();
        await client.SendTextAsync("is anyone there?", cancellationToken);
        while (await next && ++seen <= 1)
        {
            Console.WriteLine($"  received: {messages.Current.Text}");
            next = messages.MoveNextAsync();
        }

        await client.CloseAsync(cancellationToken: cancellationToken);
    }
}
