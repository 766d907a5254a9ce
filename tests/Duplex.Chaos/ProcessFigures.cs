using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Duplex.Chaos;

/// <summary>Managed heap, open handles and the thread pool, as the report shows them.</summary>
internal readonly record struct ProcessFigures(long ManagedBytes, int Handles)
{
    /// <summary>After a full collection: what is still reachable.</summary>
    public static ProcessFigures Measure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return new ProcessFigures(GC.GetTotalMemory(forceFullCollection: true), CountHandles());
    }

    /// <summary>The thread pool's settings and size right now (the lock-up needs its default minimum).</summary>
    public static JsonObject ThreadPoolNow()
    {
        ThreadPool.GetMinThreads(out int minWorkers, out _);
        return new JsonObject
        {
            ["processorCount"] = Environment.ProcessorCount,
            ["minWorkerThreads"] = minWorkers,
            ["threadCount"] = ThreadPool.ThreadCount,
            ["pendingWorkItems"] = ThreadPool.PendingWorkItemCount,
        };
    }

    private static int CountHandles()
    {
        // On Linux every socket, file and pipe is a descriptor here; elsewhere the process's handle count.
        return Directory.Exists("/proc/self/fd") ? Directory.GetFiles("/proc/self/fd").Length : Process.GetCurrentProcess().HandleCount;
    }
}
