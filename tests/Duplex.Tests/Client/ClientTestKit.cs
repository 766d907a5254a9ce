using System.Collections.Concurrent;
using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Client;

/// <summary>Things the client tests share: fast options, event recorders, a capturing logger.</summary>
internal static class ClientTestKit
{
    /// <summary>Options with keepalive off, short timeouts and a quick first reconnect.</summary>
    public static WebSocketClientOptions FastOptions(Action<WebSocketClientOptions>? configure = null)
    {
        var options = new WebSocketClientOptions();
        options.Connection.KeepAliveInterval = Timeout.InfiniteTimeSpan;
        options.Connection.CloseTimeout = TimeSpan.FromSeconds(1);
        options.Reconnect.InitialDelay = TimeSpan.FromMilliseconds(20);
        options.Reconnect.MaxDelay = TimeSpan.FromMilliseconds(100);
        options.Reconnect.Jitter = 0;
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds, re-checking every 10 ms; throws a <see cref="TimeoutException"/> naming <paramref name="what"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        using CancellationTokenSource cts = TestTimeouts.CreateSource(timeout);
        while (!condition())
        {
            try
            {
                await Task.Delay(10, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }
        }
    }
}

/// <summary>Records the client's states and events in order.</summary>
internal sealed class ClientRecorder
{
    private readonly ConcurrentQueue<string> _events = new();

    public ClientRecorder(WebSocketClient client)
    {
        client.StateChanged += (_, e) => _events.Enqueue("state:" + e.Current);
        client.OnConnected((c, _) => { _events.Enqueue(c.IsReconnect ? "reconnected" : "connected"); Connected.Enqueue(c); return ValueTask.CompletedTask; });
        client.OnDisconnected((d, _) => { _events.Enqueue($"disconnected:{(int?)d.CloseStatus}:{(d.WillReconnect ? "retry" : "stop")}"); Disconnected.Enqueue(d); return ValueTask.CompletedTask; });
        client.OnError((e, _) => { _events.Enqueue("error:" + e.GetType().Name); Errors.Enqueue(e); return ValueTask.CompletedTask; });
        client.OnMessage((m, _) => { Messages.Enqueue(m); return ValueTask.CompletedTask; });
    }

    public ConcurrentQueue<WebSocketConnectedContext> Connected { get; } = new();

    public ConcurrentQueue<WebSocketDisconnectedContext> Disconnected { get; } = new();

    public ConcurrentQueue<Exception> Errors { get; } = new();

    public ConcurrentQueue<WebSocketClientMessage> Messages { get; } = new();

    public IReadOnlyList<string> Events => [.. _events];

    public IReadOnlyList<string> States => [.. _events.Where(e => e.StartsWith("state:", StringComparison.Ordinal))];
}

/// <summary>A <see cref="Random"/> that returns chosen values from <see cref="Random.NextDouble"/>.</summary>
internal sealed class ScriptedRandom(params double[] values) : Random
{
    private int _next;

    protected override double Sample() => values[Math.Min(_next++, values.Length - 1)];

    public override double NextDouble() => Sample();
}
