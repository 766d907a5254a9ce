using System.Runtime.InteropServices;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// How many times the threads of this process have been switched off a core, voluntarily (they
/// waited: a socket read with nothing to read, a semaphore, a thread-pool worker going idle) or not
/// (preempted). Over one S3 round trip the voluntary ones are the wake-ups a client needs to bring
/// an echo from the socket to the awaiting code and the next send out — the "hops" of the latency path.
/// </summary>
/// <remarks>
/// Read with <c>getrusage(RUSAGE_SELF)</c> on 64-bit Linux: it sums every thread of the process,
/// including threads that have already exited (a retiring thread-pool worker keeps its count), which
/// a sum over <c>/proc/self/task/*/status</c> would drop, and <c>/proc/self/status</c> counts the
/// main thread only. When the call is not available, that sum over the tasks is used instead;
/// elsewhere the count is unknown (-1).
/// </remarks>
internal static class ContextSwitches
{
    private const int ResourceUsageSelf = 0;
    private static bool s_nativeFailed;

    /// <summary>The process's context switches so far, or -1 where they cannot be read.</summary>
    public static long Read()
    {
        if (!OperatingSystem.IsLinux())
        {
            return -1;
        }

        if (Environment.Is64BitProcess && !s_nativeFailed)
        {
            try
            {
                if (GetResourceUsage(ResourceUsageSelf, out ResourceUsage usage) == 0)
                {
                    return usage.VoluntaryContextSwitches + usage.InvoluntaryContextSwitches;
                }
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                s_nativeFailed = true;
            }
        }

        return SumOverTasks();
    }

    /// <summary>The sum over the threads alive now (<see cref="Hops.ThreadActivity"/>, which reads them per thread).</summary>
    private static long SumOverTasks() => Hops.ThreadActivity.Take().TotalContextSwitches;

    [DllImport("libc", EntryPoint = "getrusage")]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int GetResourceUsage(int who, out ResourceUsage usage);

    /// <summary><c>struct rusage</c> of 64-bit Linux: two <c>timeval</c>s, then fourteen <c>long</c>s.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceUsage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        public long MaxResidentSetKilobytes;
        public long SharedText;
        public long UnsharedData;
        public long UnsharedStack;
        public long MinorFaults;
        public long MajorFaults;
        public long Swaps;
        public long BlockInputs;
        public long BlockOutputs;
        public long MessagesSent;
        public long MessagesReceived;
        public long Signals;
        public long VoluntaryContextSwitches;
        public long InvoluntaryContextSwitches;
    }
}
