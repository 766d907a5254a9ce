namespace Duplex.Tests.Docs;

/// <summary>A diagnostic of a documentation block, at its line in the markdown file.</summary>
/// <param name="Block">The block, or null when the diagnostic is outside every block.</param>
/// <param name="Line">The 1-based line in the markdown file.</param>
/// <param name="Message">The compiler's message, with its id.</param>
internal sealed record SnippetProblem(MarkdownCodeBlock? Block, int Line, string Message);
