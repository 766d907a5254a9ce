using System.Diagnostics;

namespace Duplex.Chaos;

/// <summary>
/// Measures how long the thread pool takes to start a work item: every 50 ms a thread of its own queues one
/// and waits for it. A pool whose threads are all busy (spinning in sends, say) shows as long delays.
/// </summary>
internal sealed class PoolLatencyProbe : IDisposable
{
    private static readonly TimeSpan s_period = TimeSpan.FromMilliseconds(50);

    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private long _longestTicks;
    private long _samples;

    public PoolLatencyProbe()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "pool latency probe" };
        _thread.Start();
    }

    /// <summary>The longest a work item waited to start, including one that is waiting now.</summary>
    public TimeSpan Longest => TimeSpan.FromTicks(Interlocked.Read(ref _longestTicks));

    public long Samples => Interlocked.Read(ref _samples);

    /// <summary>Forgets what was measured so far (to measure one phase).</summary>
    public void Reset() => Interlocked.Exchange(ref _longestTicks, 0);

    public void Dispose()
    {
        _stop.Set();
        _thread.Join(TimeSpan.FromSeconds(2));
    }

    private void Run()
    {
        using var started = new ManualResetEventSlim();
        while (!_stop.IsSet)
        {
            started.Reset();
            long queued = Stopwatch.GetTimestamp();
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Set(), started, preferLocal: false);
            while (!started.Wait(s_period) && !_stop.IsSet)
            {
                Record(Stopwatch.GetElapsedTime(queued));
            }

            Record(Stopwatch.GetElapsedTime(queued));
            Interlocked.Increment(ref _samples);
            _stop.Wait(s_period);
        }
    }

    private void Record(TimeSpan delay)
    {
        long ticks = delay.Ticks;
        long longest;
        while (ticks > (longest = Interlocked.Read(ref _longestTicks)) && Interlocked.CompareExchange(ref _longestTicks, ticks, longest) != longest)
        {
        }
    }
}
