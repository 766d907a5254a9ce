using System.Diagnostics.Tracing;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Samples what the client process allocates, by type, from the runtime's GC AllocationTick events
/// (one event per ~100 KB allocated, naming the type that crossed the threshold): enough to see
/// which objects make up the bytes per message. Enabled with <c>--alloc-types</c>.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int AllocationTickEventId = 10;
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly Dictionary<string, long> _bytesByType = [];
    private readonly Lock _lock = new();
    private volatile bool _recording;

    public void Start()
    {
        lock (_lock)
        {
            _bytesByType.Clear();
        }

        _recording = true;
    }

    /// <summary>Stops recording; returns the sampled types with their share of the sampled bytes.</summary>
    public IReadOnlyList<(string Type, double Share)> Stop(int top)
    {
        _recording = false;
        lock (_lock)
        {
            double total = _bytesByType.Values.Sum();
            return [.. _bytesByType.OrderByDescending(p => p.Value).Take(top).Select(p => (p.Key, total == 0 ? 0 : p.Value / total))];
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventId != AllocationTickEventId || eventData.Payload is null || eventData.PayloadNames is null)
        {
            return;
        }

        int typeIndex = eventData.PayloadNames.IndexOf("TypeName");
        int amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount64");
        if (typeIndex < 0 || amountIndex < 0)
        {
            return;
        }

        string type = eventData.Payload[typeIndex] as string ?? "?";
        long amount = Convert.ToInt64(eventData.Payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture);
        lock (_lock)
        {
            _bytesByType[type] = _bytesByType.GetValueOrDefault(type) + amount;
        }
    }
}
