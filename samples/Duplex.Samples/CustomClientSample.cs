using Duplex.Client;
using Microsoft.Extensions.Logging;

namespace Duplex.Samples;

/// <summary>
/// The custom client: a subclass that authenticates and keeps statistics, with rotating headers from a
/// factory, surviving a server restart (the server closes with 1012 once) by reconnecting.
/// </summary>
internal static class CustomClientSample
{
    public static async Task RunAsync(SampleServer server, CancellationToken cancellationToken)
    {
        using ILoggerFactory logging = LoggerFactory.Create(builder => builder
            .AddSimpleConsole(console => { console.SingleLine = true; console.IncludeScopes = false; })
            .SetMinimumLevel(LogLevel.Information));
        int tokensIssued = 0;
        var options = new WebSocketClientOptions
        {
            Logger = logging.CreateLogger("CustomClient"),
            HeadersFactory = _ =>
            {
                // A real application would fetch or refresh an access token here.
                Interlocked.Increment(ref tokensIssued);
                return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(
                    new Dictionary<string, string> { ["Authorization"] = $"Bearer {SampleServer.DemoToken}" });
            },
        };
        options.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(200);

        await using var client = new AuthenticatingClient(SampleServer.DemoToken, options);
        var twoAuthentications = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage((message, ct) =>
        {
            if (client.Authentications >= 2)
            {
                twoAuthentications.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });

        await client.ConnectAsync(server.Ws("/feed?drop=1"), cancellationToken: cancellationToken);
        await twoAuthentications.Task.WaitAsync(cancellationToken);
        await client.CloseAsync(cancellationToken: cancellationToken);
        Console.WriteLine($"  authenticated {client.Authentications} times, headers produced {tokensIssued} times");
        Console.WriteLine($"  messages by type: {string.Join(", ", client.Counts.OrderBy(c => c.Key).Select(c => $"{c.Key}={c.Value}"))}");
    }
}
