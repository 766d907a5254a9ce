using System.Globalization;

namespace Duplex.Cli.Input;

/// <summary>
/// Durations on the command line: <c>250ms</c>, <c>5s</c>, <c>2m</c>, <c>1h</c>, a plain number of
/// seconds (<c>1.5</c>), or <c>inf</c> for no limit (<see cref="Timeout.InfiniteTimeSpan"/>).
/// </summary>
internal static class Duration
{
    /// <summary>What a value must look like, for error messages.</summary>
    public const string Expected = "a duration such as 250ms, 5s, 2m, 1h, a number of seconds, or inf";

    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = default;
        string value = text.Trim().ToLowerInvariant();
        if (value is "inf" or "infinite" or "forever")
        {
            duration = Timeout.InfiniteTimeSpan;
            return true;
        }

        (string number, double scale) = value switch
        {
            _ when value.EndsWith("ms", StringComparison.Ordinal) => (value[..^2], 1.0),
            _ when value.EndsWith('s') => (value[..^1], 1000.0),
            _ when value.EndsWith('m') => (value[..^1], 60_000.0),
            _ when value.EndsWith('h') => (value[..^1], 3_600_000.0),
            _ => (value, 1000.0),
        };
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double amount) || amount < 0 || double.IsInfinity(amount) || double.IsNaN(amount))
        {
            return false;
        }

        double milliseconds = amount * scale;
        if (milliseconds > int.MaxValue)
        {
            return false;
        }

        duration = TimeSpan.FromMilliseconds(milliseconds);
        return true;
    }

    /// <summary>A short human form: <c>850 ms</c>, <c>1.25 s</c>, <c>inf</c>.</summary>
    public static string Format(TimeSpan duration) => duration == Timeout.InfiniteTimeSpan
        ? "inf"
        : duration.TotalMilliseconds < 1000
            ? duration.TotalMilliseconds.ToString(duration.TotalMilliseconds < 10 ? "0.###" : "0", CultureInfo.InvariantCulture) + " ms"
            : duration.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture) + " s";
}
