using System.Runtime.CompilerServices;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// Gives the test process's thread pool room to work before the first test runs.
/// </summary>
/// <remarks>
/// The test host and the xUnit runner each keep a thread-pool thread blocked for the whole run.
/// The pool starts with one thread per core, so on a two-core machine nothing is left for the
/// tests until the pool notices the starvation and adds a thread — about every half second. Tests
/// that measure time (silence and keepalive timeouts, a server writing every 100 ms) then see a
/// half-second pause as peer silence. A few more threads from the start remove the pause.
/// </remarks>
internal static class ThreadPoolHeadroom
{
    private const int MinimumWorkerThreads = 8;

#pragma warning disable CA2255 // A test assembly sets up its process once, before any test; this is what module initializers are for.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Raise()
    {
        ThreadPool.GetMinThreads(out int workers, out int completionPorts);
        if (workers < MinimumWorkerThreads)
        {
            ThreadPool.SetMinThreads(MinimumWorkerThreads, completionPorts);
        }
    }
}
