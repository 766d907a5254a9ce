using System.Diagnostics;
using System.Net.WebSockets;
using Duplex.Connection;

namespace Duplex.Cli.Bench;

/// <summary>
/// The load of <c>duplex bench</c>: N connections, each sending M binary messages of S bytes and
/// waiting for each echo before the next (one in flight per connection), paced by the rate if one
/// is set. Round-trip times are kept per message.
/// </summary>
internal sealed class BenchRun
{
    private readonly BenchSettings _settings;
    private long _completed;
    private long _errors;

    public BenchRun(BenchSettings settings) => _settings = settings;

    /// <summary>Round trips completed so far, for the progress display.</summary>
    public long Completed => Interlocked.Read(ref _completed);

    public long Total => (long)_settings.Connections * _settings.Messages;

    /// <summary>Opens every connection; a failure throws what the connect threw, after closing the others.</summary>
    public async Task<WebSocketConnection[]> ConnectAsync(CancellationToken cancellationToken)
    {
        var connections = new WebSocketConnection[_settings.Connections];
        for (int i = 0; i < connections.Length; i++)
        {
            var options = new WebSocketConnectionOptions { MaxMessageSize = Math.Max(WebSocketConnectionOptions.DefaultMaxMessageSize, _settings.Size) };
            options.Handshake.Tls.AcceptAnyCertificate = _settings.Insecure;
            foreach (KeyValuePair<string, string> header in _settings.Headers)
            {
                options.Handshake.Headers[header.Key] = header.Value;
            }

            connections[i] = new WebSocketConnection(options);
        }

        try
        {
            await Task.WhenAll(connections.Select(c => c.ConnectAsync(_settings.Url, cancellationToken)));
            return connections;
        }
        catch
        {
            foreach (WebSocketConnection connection in connections)
            {
                connection.Dispose();
            }

            throw;
        }
    }

    /// <summary>Runs the load on open connections and reports what it measured.</summary>
    public async Task<BenchReport> RunAsync(WebSocketConnection[] connections, CancellationToken cancellationToken)
    {
        var latencies = new long[connections.Length][];
        long started = Stopwatch.GetTimestamp();
        await Task.WhenAll(connections.Select((connection, index) => Task.Run(async () => latencies[index] = await RunConnectionAsync(connection, index, started, cancellationToken), CancellationToken.None)));
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        long[] all = latencies.SelectMany(l => l).ToArray();
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        return new BenchReport(
            Output.SecretRedaction.Uri(_settings.Url),
            _settings.Connections,
            _settings.Messages,
            _settings.Size,
            _settings.Rate,
            Completed,
            Interlocked.Read(ref _errors),
            Math.Round(elapsed.TotalSeconds, 3),
            Math.Round(all.Length / seconds, 1),
            Math.Round(all.Length * (double)_settings.Size / seconds / (1024 * 1024), 3),
            Round(LatencySummary.FromTicks(all)));
    }

    private static LatencySummary Round(LatencySummary s) =>
        new(Math.Round(s.Mean, 3), Math.Round(s.P50, 3), Math.Round(s.P90, 3), Math.Round(s.P99, 3), Math.Round(s.P999, 3), Math.Round(s.Max, 3));

    private async Task<long[]> RunConnectionAsync(WebSocketConnection connection, int index, long started, CancellationToken cancellationToken)
    {
        byte[] payload = new byte[_settings.Size];
        new Random(index).NextBytes(payload);
        var latencies = new List<long>(_settings.Messages);

        // Each connection carries its share of the rate, the connections staggered across one interval.
        double interval = _settings.Rate > 0 ? _settings.Connections / _settings.Rate : 0;
        double offset = interval * index / _settings.Connections;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        for (int i = 0; i < _settings.Messages; i++)
        {
            if (interval > 0)
            {
                TimeSpan due = TimeSpan.FromSeconds(offset + (i * interval)) - Stopwatch.GetElapsedTime(started);
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, cancellationToken);
                }
            }

            timeout.CancelAfter(_settings.Timeout);
            long sent = Stopwatch.GetTimestamp();
            try
            {
                await connection.SendBinaryAsync(payload, timeout.Token);
                WebSocketMessage echo = await connection.ReceiveMessageAsync(timeout.Token);
                if (echo.IsClose)
                {
                    Interlocked.Add(ref _errors, _settings.Messages - i);
                    break;
                }

                latencies.Add(Stopwatch.GetTimestamp() - sent);
                if (echo.MessageType != WebSocketMessageType.Binary || echo.Data.Length != payload.Length)
                {
                    Interlocked.Increment(ref _errors);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // No echo within the timeout: the rest of this connection's messages count as errors.
                Interlocked.Add(ref _errors, _settings.Messages - i);
                break;
            }
            catch (Exception ex) when (ex is WebSocketClosedException or WebSocketProtocolException)
            {
                Interlocked.Add(ref _errors, _settings.Messages - i);
                break;
            }

            Interlocked.Increment(ref _completed);
        }

        return latencies.ToArray();
    }
}
