using System.CommandLine;
using System.CommandLine.Parsing;

namespace Duplex.Cli.Input;

/// <summary>Option kinds shared by the commands: durations, and the global <c>--no-color</c>.</summary>
internal static class CommandLineValues
{
    /// <summary><c>--no-color</c>, on every command.</summary>
    public static Option<bool> NoColor { get; } = new("--no-color")
    {
        Description = "Plain output without colour (also when NO_COLOR is set or output is not a terminal).",
        Recursive = true,
    };

    /// <summary>An option whose value is a <see cref="Duration"/>.</summary>
    public static Option<TimeSpan> DurationOption(string name, string description, TimeSpan defaultValue, bool allowInfinite = true)
    {
        var option = new Option<TimeSpan>(name)
        {
            Description = description,
            HelpName = "duration",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result => ParseDuration(result, allowInfinite),
        };
        return option;
    }

    /// <summary>An optional duration; null when not given.</summary>
    public static Option<TimeSpan?> OptionalDurationOption(string name, string description, bool allowInfinite = true) =>
        new(name)
        {
            Description = description,
            HelpName = "duration",
            CustomParser = result => ParseDuration(result, allowInfinite),
        };

    /// <summary>The server URL argument: ws://, wss://, or http(s):// taken as such.</summary>
    public static Argument<Uri> UrlArgument(string description) => new("url")
    {
        Description = description,
        CustomParser = ParseUrl,
    };

    private static Uri ParseUrl(ArgumentResult result)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("ws" or "wss" or "http" or "https"))
        {
            result.AddError($"'{text}' is not a ws://, wss://, http:// or https:// URL.");
            return null!;
        }

        return uri;
    }

    private static TimeSpan ParseDuration(ArgumentResult result, bool allowInfinite)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (!Duration.TryParse(text, out TimeSpan value) || (!allowInfinite && value == Timeout.InfiniteTimeSpan))
        {
            result.AddError($"'{text}' is not {(allowInfinite ? Duration.Expected : "a finite duration such as 250ms, 5s or 2m")}.");
            return default;
        }

        return value;
    }
}
