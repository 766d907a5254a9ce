using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Tracing;

namespace Duplex.Benchmarks.Hops;

/// <summary>
/// Counts the work items queued to the thread pool by who queued them: the runtime's
/// <c>FrameworkEventSource</c> raises an event on the queuing thread for each one, and the listener
/// names the first method on that thread's stack outside the thread pool and event code (e.g. the
/// socket engine's event loop, a timer, a send handing its write to the pool). Capturing a stack per
/// work item slows the loop, so it runs in a pass of its own.
/// </summary>
internal sealed class WorkItemOrigins : EventListener
{
    private const string FrameworkEventSource = "System.Diagnostics.Eventing.FrameworkEventSource";

    // FrameworkEventSource's ThreadPool (0x2) and ThreadTransfer (0x10) keywords.
    private const EventKeywords ThreadPoolKeywords = (EventKeywords)0x12;

    private readonly ConcurrentDictionary<string, int> _origins = new(StringComparer.Ordinal);
    private volatile bool _counting;

    /// <summary>Work items queued since <see cref="Start"/>, by origin.</summary>
    public IReadOnlyDictionary<string, int> Origins => _origins;

    public void Start()
    {
        _origins.Clear();
        _counting = true;
    }

    public void Stop() => _counting = false;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == FrameworkEventSource)
        {
            EnableEvents(eventSource, EventLevel.Verbose, ThreadPoolKeywords);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_counting || eventData.EventName is null || !eventData.EventName.Contains("Enqueue", StringComparison.Ordinal))
        {
            return;
        }

        _origins.AddOrUpdate(Origin(new StackTrace(false)), 1, static (_, count) => count + 1);
    }

    private static string Origin(StackTrace stack)
    {
        foreach (StackFrame frame in stack.GetFrames())
        {
            if (frame.GetMethod() is not { DeclaringType: { } type } method)
            {
                continue;
            }

            string name = type.FullName ?? type.Name;
            if (name.StartsWith("System.Diagnostics.Tracing.", StringComparison.Ordinal)
                || name.StartsWith("System.Threading.ThreadPool", StringComparison.Ordinal)
                || name.StartsWith("System.Threading.Tasks.", StringComparison.Ordinal)
                || name.StartsWith("System.Runtime.CompilerServices.", StringComparison.Ordinal)
                || type == typeof(WorkItemOrigins))
            {
                continue;
            }

            return $"{type.Name}.{method.Name}";
        }

        return "(unknown)";
    }
}
