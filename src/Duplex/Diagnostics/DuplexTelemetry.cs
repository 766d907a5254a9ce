using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Duplex.Diagnostics;

/// <summary>
/// Metrics (<see cref="System.Diagnostics.Metrics"/>) and tracing (<see cref="ActivitySource"/>)
/// under the name "Duplex", so OpenTelemetry and dotnet-counters pick them up with no dependency
/// of ours. URLs in tags are redacted.
/// </summary>
internal static class DuplexTelemetry
{
    /// <summary>The meter and activity source name.</summary>
    public const string Name = "Duplex";

    public static readonly ActivitySource ActivitySource = new(Name, typeof(DuplexTelemetry).Assembly.GetName().Version?.ToString());

    private static readonly Meter s_meter = new(Name, typeof(DuplexTelemetry).Assembly.GetName().Version?.ToString());

    public static readonly UpDownCounter<long> OpenConnections = s_meter.CreateUpDownCounter<long>("duplex.client.connections.open", "{connection}", "WebSocket connections currently open.");

    public static readonly Counter<long> ConnectAttempts = s_meter.CreateCounter<long>("duplex.client.connect.attempts", "{attempt}", "Opening handshakes started.");

    public static readonly Counter<long> ConnectFailures = s_meter.CreateCounter<long>("duplex.client.connect.failures", "{attempt}", "Opening handshakes that failed, by error.");

    public static readonly Counter<long> Reconnects = s_meter.CreateCounter<long>("duplex.client.reconnects", "{connection}", "Connections that replaced a lost one.");

    public static readonly Counter<long> MessagesSent = s_meter.CreateCounter<long>("duplex.client.messages.sent", "{message}", "Messages handed to a connection.");

    public static readonly Counter<long> MessagesReceived = s_meter.CreateCounter<long>("duplex.client.messages.received", "{message}", "Messages received.");

    public static readonly Counter<long> BytesSent = s_meter.CreateCounter<long>("duplex.client.bytes.sent", "By", "Payload bytes of messages sent.");

    public static readonly Counter<long> BytesReceived = s_meter.CreateCounter<long>("duplex.client.bytes.received", "By", "Payload bytes of messages received.");

    public static readonly Histogram<double> PingRoundTrip = s_meter.CreateHistogram<double>("duplex.client.ping.rtt", "ms", "Ping to Pong round-trip time.");

    public static readonly UpDownCounter<long> OutboxDepth = s_meter.CreateUpDownCounter<long>("duplex.client.outbox.depth", "{message}", "Messages waiting in outboxes for a connection.");
}
