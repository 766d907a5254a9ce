using System.Globalization;

namespace Duplex.Chaos;

/// <summary>The command line: a scenario and its settings.</summary>
internal sealed class HostArguments
{
    public const string Usage = """
        usage:
          lockup --fault rst|fin|stall|drip [--senders 16] [--observe 30s] [--interval 2ms] [--padding 24]
          chaos [--duration 20s] [--senders 16] [--messages N] [--seed S] [--interval 2ms] [--padding 24]
        """;

    public string Scenario { get; private init; } = "";

    public string Fault { get; private init; } = "rst";

    public int Senders { get; private init; } = 16;

    public TimeSpan Observe { get; private init; } = TimeSpan.FromSeconds(30);

    public TimeSpan Duration { get; private init; } = TimeSpan.FromSeconds(20);

    public TimeSpan Interval { get; private init; } = TimeSpan.FromMilliseconds(2);

    public long Messages { get; private init; } = long.MaxValue;

    public int Seed { get; private init; } = Random.Shared.Next();

    /// <summary>Bytes of padding in each message after its <c>{sender}:{seq}:</c> prefix.</summary>
    public int Padding { get; private init; } = 24;

    /// <summary>Parses <paramref name="args"/>; null (with <paramref name="error"/>) when they make no sense.</summary>
    public static HostArguments? Parse(string[] args, out string? error)
    {
        error = null;
        if (args.Length == 0 || args[0] is not ("lockup" or "chaos"))
        {
            error = "a scenario is needed: lockup or chaos";
            return null;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 1; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                error = $"expected --name value at '{args[i]}'";
                return null;
            }

            values[args[i][2..]] = args[i + 1];
        }

        try
        {
            var parsed = new HostArguments
            {
                Scenario = args[0],
                Fault = values.GetValueOrDefault("fault", "rst"),
                Senders = values.TryGetValue("senders", out string? senders) ? int.Parse(senders, CultureInfo.InvariantCulture) : 16,
                Observe = values.TryGetValue("observe", out string? observe) ? ParseDuration(observe) : TimeSpan.FromSeconds(30),
                Duration = values.TryGetValue("duration", out string? duration) ? ParseDuration(duration) : TimeSpan.FromSeconds(20),
                Interval = values.TryGetValue("interval", out string? interval) ? ParseDuration(interval) : TimeSpan.FromMilliseconds(2),
                Messages = values.TryGetValue("messages", out string? messages) ? long.Parse(messages, CultureInfo.InvariantCulture) : long.MaxValue,
                Seed = values.TryGetValue("seed", out string? seed) ? int.Parse(seed, CultureInfo.InvariantCulture) : Random.Shared.Next(),
                Padding = values.TryGetValue("padding", out string? padding) ? int.Parse(padding, CultureInfo.InvariantCulture) : 24,
            };
            if (parsed.Fault is not ("rst" or "fin" or "stall" or "drip"))
            {
                error = $"unknown fault '{parsed.Fault}'";
                return null;
            }

            if (parsed.Senders < 1 || parsed.Messages < 1 || parsed.Padding < 0)
            {
                error = "--senders and --messages must be at least 1";
                return null;
            }

            return parsed;
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return null;
        }
        catch (OverflowException ex)
        {
            error = ex.Message;
            return null;
        }
    }

    /// <summary><c>20s</c>, <c>1500ms</c>, <c>2m</c>, or a bare number of seconds.</summary>
    private static TimeSpan ParseDuration(string text)
    {
        if (text.EndsWith("ms", StringComparison.Ordinal))
        {
            return TimeSpan.FromMilliseconds(double.Parse(text[..^2], CultureInfo.InvariantCulture));
        }

        if (text.EndsWith('m'))
        {
            return TimeSpan.FromMinutes(double.Parse(text[..^1], CultureInfo.InvariantCulture));
        }

        return TimeSpan.FromSeconds(double.Parse(text.TrimEnd('s'), CultureInfo.InvariantCulture));
    }
}
