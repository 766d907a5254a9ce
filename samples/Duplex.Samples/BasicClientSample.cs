using Duplex.Client;

namespace Duplex.Samples;

/// <summary>
/// The full example: a client with custom headers and the four handlers (connect, message, error,
/// disconnect), sending JSON, pinging, closing.
/// </summary>
internal static class BasicClientSample
{
    public static async Task RunAsync(SampleServer server, CancellationToken cancellationToken)
    {
        var options = new WebSocketClientOptions();
        options.Connection.Handshake.Headers["Authorization"] = $"Bearer {SampleServer.DemoToken}";
        options.Connection.Handshake.Headers["X-Client-Info"] = "duplex-samples/1.0";
        options.Connection.Handshake.Headers["Accept-Language"] = "en";

        await using var client = new WebSocketClient(options);
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int ticks = 0;
        client.OnConnected((context, ct) =>
        {
            Console.WriteLine($"  on_connect (reconnect: {context.IsReconnect}, HTTP/{context.Response.HttpVersion})");
            return ValueTask.CompletedTask;
        });
        client.OnMessage((message, ct) =>
        {
            // JSON arrives parsed.
            string? type = message.Json?.GetProperty("type").GetString();
            if (type == "subscribed")
            {
                Console.WriteLine($"  on_message: subscribed to {message.Json!.Value.GetProperty("channel").GetString()}");
                subscribed.TrySetResult();
            }
            else if (type == "tick" && Interlocked.Increment(ref ticks) <= 2)
            {
                Console.WriteLine($"  on_message: tick {message.Json!.Value.GetProperty("seq").GetInt32()}");
            }

            return ValueTask.CompletedTask;
        });
        client.OnError((error, ct) =>
        {
            Console.WriteLine($"  on_error: {error.Message}");
            return ValueTask.CompletedTask;
        });
        client.OnDisconnected((context, ct) =>
        {
            Console.WriteLine($"  on_disconnect: {(int?)context.CloseStatus} (reconnecting: {context.WillReconnect})");
            return ValueTask.CompletedTask;
        });

        await client.ConnectAsync(server.Ws("/feed"), cancellationToken: cancellationToken);
        Console.WriteLine($"  state: {client.State}, open: {client.IsOpen}");
        await client.SendJsonAsync(new SubscribeRequest("subscribe", "prices"), SampleJsonContext.Default.SubscribeRequest, cancellationToken);
        await subscribed.Task.WaitAsync(cancellationToken);

        WebSocketPingResult ping = await client.PingAsync("ping"u8.ToArray(), cancellationToken: cancellationToken);
        Console.WriteLine($"  ping: success {ping.Success}, {ping.RoundTripTime.TotalMilliseconds:0.000} ms");

        await client.CloseAsync(cancellationToken: cancellationToken);
        Console.WriteLine($"  state: {client.State}");
    }
}
