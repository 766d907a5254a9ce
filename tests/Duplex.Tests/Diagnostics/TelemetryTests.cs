using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Duplex.Client;
using Duplex.Tests.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Diagnostics;

/// <summary>Runs alone: the instruments are process-wide, so other tests would add to the counts.</summary>
[CollectionDefinition(nameof(TelemetryCollection), DisableParallelization = true)]
public sealed class TelemetryCollection;

[Collection(nameof(TelemetryCollection))]
public sealed class TelemetryTests
{
    [Fact]
    public async Task Client_EmitsMetricsAndAConnectSpan_WithRedactedUrl()
    {
        var measurements = new ConcurrentDictionary<string, double>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Duplex")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, _, _) => measurements.AddOrUpdate(instrument.Name, value, (_, sum) => sum + value));
        meters.SetMeasurementEventCallback<double>((instrument, value, _, _) => measurements.AddOrUpdate(instrument.Name + ".count", 1, (_, n) => n + 1));
        meters.Start();
        var spans = new ConcurrentQueue<Activity>();
        using var activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Duplex",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(activities);

        using CancellationTokenSource timeout = TestTimeouts.CreateSource();
        await using KestrelWebSocketHost host = await KestrelWebSocketHost.StartNewAsync(cancellationToken: timeout.Token);
        await using (var client = new WebSocketClient(ClientTestKit.FastOptions()))
        {
            var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            client.OnMessage((_, _) => { received.TrySetResult(); return ValueTask.CompletedTask; });
            await client.ConnectAsync(host.GetUri("/echo?token=SECRET"), cancellationToken: timeout.Token);
            Assert.Equal(1, measurements.GetValueOrDefault("duplex.client.connections.open"));
            await client.SendTextAsync("hello", timeout.Token);
            await received.Task.WaitAsync(timeout.Token);
            Assert.True((await client.PingAsync(cancellationToken: timeout.Token)).Success);
            await client.CloseAsync(cancellationToken: timeout.Token);
        }

        meters.RecordObservableInstruments();
        Assert.Equal(1, measurements.GetValueOrDefault("duplex.client.connect.attempts"));
        Assert.Equal(0, measurements.GetValueOrDefault("duplex.client.connections.open"));
        Assert.Equal(1, measurements.GetValueOrDefault("duplex.client.messages.sent"));
        Assert.Equal(5, measurements.GetValueOrDefault("duplex.client.bytes.sent"));
        Assert.Equal(1, measurements.GetValueOrDefault("duplex.client.messages.received"));
        Assert.Equal(1, measurements.GetValueOrDefault("duplex.client.ping.rtt.count"));
        Activity span = Assert.Single(spans, s => s.OperationName == "websocket.connect");
        Assert.Equal(101, span.GetTagItem("http.response.status_code"));
        string url = (string)span.GetTagItem("url.full")!;
        Assert.Contains("token=***", url, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", url, StringComparison.Ordinal);
    }
}
