using Spectre.Console;
using Spectre.Console.Rendering;

namespace Duplex.Cli.Output;

/// <summary>
/// Where a command writes: standard output and standard error, styled (colour, live displays) only
/// when standard output is a terminal and neither <c>--no-color</c> nor <c>NO_COLOR</c> says otherwise;
/// plain text otherwise, one line per event, never wrapped, so that scripts and tests can read it.
/// </summary>
/// <remarks>Safe to call from any thread: lines are written whole, one at a time.</remarks>
internal sealed class Terminal
{
    // Wide enough that a plain table or line is never wrapped by the renderer.
    private const int PlainWidth = 240;

    private readonly object _lock = new();
    private readonly TextWriter _out;
    private readonly TextWriter _error;

    public Terminal(bool noColor, TextWriter? output = null, TextWriter? error = null)
    {
        _out = output ?? Console.Out;
        _error = error ?? Console.Error;
        IsTerminal = output is null && !Console.IsOutputRedirected;
        IsInputTerminal = !Console.IsInputRedirected;
        Styled = IsTerminal && !noColor && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        Out = Create(_out, Styled, IsTerminal);
        Error = Create(_error, Styled && !Console.IsErrorRedirected, IsTerminal && !Console.IsErrorRedirected);
    }

    /// <summary>Whether standard output is a terminal.</summary>
    public bool IsTerminal { get; }

    /// <summary>Whether standard input is a terminal (typed lines) rather than a pipe or a file.</summary>
    public bool IsInputTerminal { get; }

    /// <summary>Whether output carries colour and live displays.</summary>
    public bool Styled { get; }

    /// <summary>The renderer for standard output (tables, JSON, progress).</summary>
    public IAnsiConsole Out { get; }

    /// <summary>The renderer for standard error.</summary>
    public IAnsiConsole Error { get; }

    /// <summary>Writes one line of Spectre markup to standard output; plain text when not styled.</summary>
    public void Line(string markup) => Write(_out, Out, markup, Styled);

    /// <summary>Writes one line of Spectre markup to standard error; plain text when not styled.</summary>
    public void ErrorLine(string markup) => Write(_error, Error, markup, Styled);

    /// <summary>Writes text as it is (no markup) to standard output.</summary>
    public void Text(string text)
    {
        lock (_lock)
        {
            _out.WriteLine(text);
            _out.Flush();
        }
    }

    /// <summary>Renders a table, JSON or another renderable to standard output.</summary>
    public void Render(IRenderable renderable)
    {
        lock (_lock)
        {
            Out.Write(renderable);
            _out.Flush();
        }
    }

    /// <summary>Escapes text for use inside markup.</summary>
    public static string Escape(string text) => Markup.Escape(text);

    private void Write(TextWriter writer, IAnsiConsole console, string markup, bool styled)
    {
        lock (_lock)
        {
            if (styled)
            {
                console.MarkupLine(markup);
            }
            else
            {
                writer.WriteLine(Markup.Remove(markup));
            }

            writer.Flush();
        }
    }

    private static IAnsiConsole Create(TextWriter writer, bool styled, bool interactive)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = styled ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = styled ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        if (!interactive)
        {
            console.Profile.Width = PlainWidth;
        }

        return console;
    }
}
