using System.Globalization;

namespace Duplex.Benchmarks.Hops;

/// <summary>
/// The process's threads as Linux counts them (<c>/proc/self/task</c>): per thread its name, context
/// switches (voluntary: it waited and was woken; involuntary: it was preempted) and CPU time in clock
/// ticks. The difference of two snapshots, grouped by thread name, shows which threads woke and how
/// often while a loop ran — the thread hops. Empty where <c>/proc</c> is not there.
/// </summary>
internal sealed class ThreadActivity
{
    private readonly Dictionary<int, Sample> _threads;

    private ThreadActivity(Dictionary<int, Sample> threads) => _threads = threads;

    public static ThreadActivity Take()
    {
        var threads = new Dictionary<int, Sample>();
        if (!Directory.Exists("/proc/self/task"))
        {
            return new ThreadActivity(threads);
        }

        foreach (string directory in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                int id = int.Parse(Path.GetFileName(directory), CultureInfo.InvariantCulture);
                string name = File.ReadAllText(Path.Combine(directory, "comm")).Trim();
                long voluntary = 0;
                long involuntary = 0;
                foreach (string line in File.ReadLines(Path.Combine(directory, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        voluntary = long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                    }
                    else if (line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        involuntary = long.Parse(line.AsSpan(line.IndexOf(':') + 1).Trim(), CultureInfo.InvariantCulture);
                    }
                }

                // Fields 14 and 15 of stat (utime, stime), counted after the parenthesised name.
                string stat = File.ReadAllText(Path.Combine(directory, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                long ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                threads[id] = new Sample(name, voluntary, involuntary, ticks);
            }
            catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException or IndexOutOfRangeException)
            {
                // The thread ended while it was read.
            }
        }

        return new ThreadActivity(threads);
    }

    /// <summary>Context switches of every thread alive when taken, voluntary and involuntary together.</summary>
    public long TotalContextSwitches => _threads.Values.Sum(t => t.Voluntary + t.Involuntary);

    /// <summary>What the threads did since <paramref name="before"/>, by thread name (pool workers together).</summary>
    public IReadOnlyList<Activity> Since(ThreadActivity before)
    {
        var byName = new Dictionary<string, Activity>(StringComparer.Ordinal);
        foreach ((int id, Sample now) in _threads)
        {
            Sample then = before._threads.GetValueOrDefault(id, new Sample(now.Name, 0, 0, 0));
            Activity sum = byName.GetValueOrDefault(now.Name, new Activity(now.Name, 0, 0, 0, 0));
            long voluntary = now.Voluntary - then.Voluntary;
            long involuntary = now.Involuntary - then.Involuntary;
            long ticks = now.Ticks - then.Ticks;
            bool active = voluntary + involuntary + ticks > 0;
            byName[now.Name] = new Activity(now.Name, sum.Threads + (active ? 1 : 0), sum.Voluntary + voluntary, sum.Involuntary + involuntary, sum.Ticks + ticks);
        }

        return [.. byName.Values.Where(a => a.Threads > 0).OrderByDescending(a => a.Voluntary + a.Involuntary)];
    }

    private readonly record struct Sample(string Name, long Voluntary, long Involuntary, long Ticks);

    /// <summary>Threads of one name that ran, their context switches, and their CPU time in clock ticks (usually 10 ms).</summary>
    internal readonly record struct Activity(string Name, int Threads, long Voluntary, long Involuntary, long Ticks);
}
