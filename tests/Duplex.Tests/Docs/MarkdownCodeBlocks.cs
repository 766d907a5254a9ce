namespace Duplex.Tests.Docs;

/// <summary>Finds the fenced code blocks of the repository's markdown documentation.</summary>
internal static class MarkdownCodeBlocks
{
    /// <summary>README.md, the package's README and every markdown file under docs/ (generated output excluded), relative to the root.</summary>
    public static IReadOnlyList<string> DocumentationFiles(string root)
    {
        var files = new List<string> { "README.md", "src/Duplex/PACKAGE.md" };
        string docs = Path.Combine(root, "docs");
        if (Directory.Exists(docs))
        {
            files.AddRange(Directory.EnumerateFiles(docs, "*.md", SearchOption.AllDirectories)
                .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
                .Where(path => !IsGenerated(path))
                .Order(StringComparer.Ordinal));
        }

        return files;
    }

    /// <summary>The fenced blocks of one markdown text, in order.</summary>
    public static IReadOnlyList<MarkdownCodeBlock> Parse(string file, string markdown)
    {
        var blocks = new List<MarkdownCodeBlock>();
        string[] lines = markdown.ReplaceLineEndings("\n").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string opening = lines[i].TrimStart();
            int indent = lines[i].Length - opening.Length;
            char fenceChar = opening.Length > 0 ? opening[0] : '\0';
            if (indent > 3 || fenceChar is not ('`' or '~'))
            {
                continue;
            }

            int fenceLength = opening.TakeWhile(c => c == fenceChar).Count();
            if (fenceLength < 3)
            {
                continue;
            }

            // CommonMark: the closing fence uses the same character, at least as many of it, and nothing else.
            string info = opening[fenceLength..].Trim();
            int start = i + 1;
            int end = start;
            while (end < lines.Length && !IsClosingFence(lines[end], fenceChar, fenceLength))
            {
                end++;
            }

            IEnumerable<string> code = lines[start..end].Select(line => RemoveIndent(line, indent));
            blocks.Add(new MarkdownCodeBlock(file, start + 1, info, string.Join('\n', code)));
            i = end;
        }

        return blocks;
    }

    private static bool IsClosingFence(string line, char fenceChar, int fenceLength)
    {
        string trimmed = line.Trim();
        return line.Length - line.TrimStart().Length <= 3
            && trimmed.Length >= fenceLength
            && trimmed.All(c => c == fenceChar);
    }

    private static string RemoveIndent(string line, int indent)
    {
        int spaces = 0;
        while (spaces < indent && spaces < line.Length && line[spaces] == ' ')
        {
            spaces++;
        }

        return line[spaces..];
    }

    private static bool IsGenerated(string path) =>
        path.StartsWith("docs/_site/", StringComparison.Ordinal) ||
        path.StartsWith("docs/api/", StringComparison.Ordinal) ||
        path.StartsWith("docs/obj/", StringComparison.Ordinal);
}
