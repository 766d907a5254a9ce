using System.Diagnostics;

namespace Duplex.Chaos;

/// <summary>
/// Waits for the orchestrating thread, which blocks instead of awaiting so that it keeps time while the thread
/// pool may be starved. Every wait is bounded.
/// </summary>
internal static class Blocking
{
    /// <summary>Re-checks <paramref name="condition"/> every 20 ms until it holds (true) or the timeout (false).</summary>
    public static bool Until(Func<bool> condition, TimeSpan timeout)
    {
        long start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(start) >= timeout)
            {
                return false;
            }

            Thread.Sleep(20);
        }

        return true;
    }

    /// <summary>Waits for <paramref name="task"/> to end, however it ends; false on timeout. Never throws.</summary>
    public static bool Quietly(Task task, TimeSpan timeout)
    {
        try
        {
            return task.Wait(timeout);
        }
        catch (AggregateException)
        {
            return true;
        }
    }
}
