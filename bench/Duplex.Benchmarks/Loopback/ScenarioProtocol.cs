using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// The line protocol between the runner and a client process (<c>--process-per-client</c>). The
/// child prints <c>ready &lt;pid&gt;</c> once it can take commands, then answers each command line on
/// standard input with exactly one line on standard output: <c>ok [fields]</c> or
/// <c>error &lt;message&gt;</c>. Commands:
/// <list type="bullet">
/// <item><c>warm &lt;s1-messages&gt; &lt;s2-messages&gt; &lt;s3-round-trips&gt; &lt;s4-round-trips&gt;</c> —
/// those runs, untimed (0 skips one); <c>ok</c>.</item>
/// <item><c>s1 &lt;count&gt;</c>, <c>s2 &lt;count&gt;</c> — one S1 or S2 run on a connection of its own; <c>ok &lt;reading&gt;</c>.</item>
/// <item><c>connect</c> — open the echo connection; <c>ok</c>.</item>
/// <item><c>s3-block &lt;count&gt;</c>, <c>s4-block &lt;count&gt;</c> — that many timed round trips on it;
/// <c>ok &lt;reading&gt; &lt;ns,ns,…&gt;</c>, one time per round trip.</item>
/// <item><c>close</c> — close the echo connection; <c>ok</c>. <c>quit</c> — <c>ok</c>, then exit.</item>
/// </list>
/// A reading is five integers: operations, elapsed ns, client-process CPU ns (all threads), allocated
/// bytes and context switches, the last two -1 where the client cannot tell. Times cross the pipe in
/// nanoseconds, not <see cref="Stopwatch"/> ticks, so a client that is not .NET can answer too.
/// </summary>
internal static class ScenarioProtocol
{
    public const string Ready = "ready";
    public const string Ok = "ok";
    public const string Error = "error";
    public const string Warm = "warm";
    public const string Receive = "s1";
    public const string Send = "s2";
    public const string Connect = "connect";
    public const string TextBlock = "s3-block";
    public const string BinaryBlock = "s4-block";
    public const string Close = "close";
    public const string Quit = "quit";

    private const int ReadingFields = 5;
    private static readonly CultureInfo s_culture = CultureInfo.InvariantCulture;

    public static string Format(Meter.Reading reading) => string.Create(
        s_culture,
        $"{reading.Operations} {reading.Elapsed.Ticks * 100} {reading.Cpu.Ticks * 100} {reading.Allocated} {reading.ContextSwitches}");

    public static string Format(EchoBlock block)
    {
        var line = new StringBuilder(Format(block.Reading)).Append(' ');
        double nanosecondsPerTick = 1e9 / Stopwatch.Frequency;
        for (int i = 0; i < block.Ticks.Length; i++)
        {
            if (i > 0)
            {
                line.Append(',');
            }

            line.Append(s_culture, $"{(long)Math.Round(block.Ticks[i] * nanosecondsPerTick)}");
        }

        return line.ToString();
    }

    /// <summary>The reading in <paramref name="fields"/> from <paramref name="start"/> on.</summary>
    public static Meter.Reading ParseReading(string[] fields, int start)
    {
        if (fields.Length < start + ReadingFields)
        {
            throw new FormatException($"A reading needs {ReadingFields} fields; the reply had {fields.Length - start}.");
        }

        long Field(int i) => long.Parse(fields[start + i], NumberStyles.AllowLeadingSign, s_culture);
        return new Meter.Reading(
            checked((int)Field(0)),
            TimeSpan.FromTicks(Field(1) / 100),
            TimeSpan.FromTicks(Field(2) / 100),
            Field(3),
            Field(4));
    }

    /// <summary>An echo block: the reading, then the round-trip times, turned into this process's <see cref="Stopwatch"/> ticks.</summary>
    public static EchoBlock ParseBlock(string[] fields, int start)
    {
        Meter.Reading reading = ParseReading(fields, start);
        if (fields.Length != start + ReadingFields + 1)
        {
            throw new FormatException("An echo block's reply ends with its round-trip times.");
        }

        double ticksPerNanosecond = Stopwatch.Frequency / 1e9;
        long[] ticks = [.. fields[start + ReadingFields].Split(',').Select(t => (long)Math.Round(long.Parse(t, s_culture) * ticksPerNanosecond))];
        if (ticks.Length != reading.Operations)
        {
            throw new FormatException($"An echo block of {reading.Operations} round trips came with {ticks.Length} times.");
        }

        return new EchoBlock(reading, ticks);
    }
}
