namespace Duplex.Tests.Docs;

/// <summary>One fenced code block of a markdown file.</summary>
/// <param name="File">The markdown file, relative to the repository root, with forward slashes.</param>
/// <param name="Line">The 1-based line of the block's first code line (the one after the opening fence).</param>
/// <param name="Info">The fence's info string, such as <c>csharp</c> or <c>csharp ignore</c>.</param>
/// <param name="Code">The lines between the fences, joined with <c>\n</c>.</param>
internal sealed record MarkdownCodeBlock(string File, int Line, string Info, string Code)
{
    /// <summary>The fence's language, the first word of its info string, in lower case.</summary>
    public string Language => Info.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries) is [var first, ..] ? first.ToLowerInvariant() : "";

    /// <summary>Whether the block is C# (<c>csharp</c>, <c>cs</c> or <c>c#</c>).</summary>
    public bool IsCSharp => Language is "csharp" or "cs" or "c#";

    /// <summary>Whether the info string asks for the block not to be compiled (<c>csharp ignore</c>).</summary>
    public bool IsIgnored => Info.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Contains("ignore", StringComparer.OrdinalIgnoreCase);

    /// <summary>Where the block is, as <c>file:line</c>.</summary>
    public override string ToString() => $"{File}:{Line}";
}
