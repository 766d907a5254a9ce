using System.Text;
using Duplex.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Duplex.Tests.Docs;

/// <summary>
/// Every C# block in README.md and docs/ compiles against the library, so the documentation cannot
/// drift from the API. The convention a block follows is <see cref="SnippetCompiler"/>'s.
/// </summary>
public sealed class DocumentationSnippetTests
{
    [Fact]
    public void EveryCSharpBlock_InReadmeAndDocs_Compiles()
    {
        List<MarkdownCodeBlock> blocks = [.. CSharpBlocks().Where(b => !b.IsIgnored)];
        Assert.NotEmpty(blocks);

        IReadOnlyList<SnippetProblem> problems = SnippetCompiler.Compile(blocks);

        Assert.True(problems.Count == 0, Describe(problems));
    }

    [Fact]
    public void CSharpBlocks_AreFoundInReadmeAndDocs()
    {
        List<MarkdownCodeBlock> blocks = [.. CSharpBlocks()];

        Assert.Contains(blocks, b => b.File == "README.md");
        Assert.Contains(blocks, b => b.File == "docs/tutorial.md");
        Assert.Contains(blocks, b => b.File.StartsWith("docs/howto/", StringComparison.Ordinal));

        // Opting out is for the rare fragment that cannot stand alone; a block of code users copy compiles.
        Assert.True(blocks.Count(b => b.IsIgnored) <= 3, "Too many ```csharp ignore blocks: " + string.Join(", ", blocks.Where(b => b.IsIgnored)));
    }

    [Fact]
    public void Parse_FindsFencesWithTheirLinesAndInfo()
    {
        const string markdown = "# Title\n\n```csharp\nint x = 1;\n```\n\ntext\n\n````cs ignore\n```\nnested\n````\n  ```bash\n  echo hi\n  ```\n";

        IReadOnlyList<MarkdownCodeBlock> blocks = MarkdownCodeBlocks.Parse("a.md", markdown);

        Assert.Equal(3, blocks.Count);
        Assert.Equal(("a.md", 4, "csharp", "int x = 1;", true, false), (blocks[0].File, blocks[0].Line, blocks[0].Info, blocks[0].Code, blocks[0].IsCSharp, blocks[0].IsIgnored));
        Assert.Equal((10, "```\nnested", true, true), (blocks[1].Line, blocks[1].Code, blocks[1].IsCSharp, blocks[1].IsIgnored));
        Assert.Equal((14, "echo hi", false), (blocks[2].Line, blocks[2].Code, blocks[2].IsCSharp));
    }

    [Fact]
    public void Compile_ReportsTheMarkdownFileAndLineOfAnError()
    {
        var block = new MarkdownCodeBlock("docs/example.md", 20, "csharp", "using System.Text;\n\nvar builder = new StringBuilder();\nbuilder.Append(Undefined);\n\nrecord Point(int X, int Y);");

        IReadOnlyList<SnippetProblem> problems = SnippetCompiler.Compile([block]);

        SnippetProblem problem = Assert.Single(problems);
        Assert.Equal(23, problem.Line);
        Assert.Same(block, problem.Block);
        Assert.Contains("docs/example.md(23,", problem.Message, StringComparison.Ordinal);
        Assert.Contains("CS0103", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Compile_StatementsMayAwaitAndUseTheCancellationToken_TypesMayBeDeclared()
    {
        var block = new MarkdownCodeBlock("docs/example.md", 1, "csharp",
            "await Task.Delay(1, cancellationToken);\nConsole.WriteLine(new Point(1, 2));\nConsole.WriteLine(args.Length);\n\nrecord Point(int X, int Y);");

        Assert.Empty(SnippetCompiler.Compile([block]));
    }

    [Fact]
    public void Wrap_PutsStatementsInAMethodAndTypesBesideIt()
    {
        var block = new MarkdownCodeBlock("x.md", 5, "csharp", "using Duplex.Client;\nConsole.WriteLine(1);\nclass C { }");
        var unit = (CompilationUnitSyntax)CSharpSyntaxTree.ParseText(block.Code).GetRoot();

        string wrapped = SnippetCompiler.Wrap(block, unit, 7);

        Assert.Contains("namespace DocumentationSnippets.Block7", wrapped, StringComparison.Ordinal);
        Assert.True(wrapped.IndexOf("using Duplex.Client;", StringComparison.Ordinal) < wrapped.IndexOf("RunAsync", StringComparison.Ordinal));
        Assert.True(wrapped.IndexOf("Console.WriteLine(1);", StringComparison.Ordinal) > wrapped.IndexOf("RunAsync", StringComparison.Ordinal));
        Assert.Contains("#line 6 \"x.md\"", wrapped, StringComparison.Ordinal);
        Assert.Contains("#line 7 \"x.md\"", wrapped, StringComparison.Ordinal);
    }

    private static IEnumerable<MarkdownCodeBlock> CSharpBlocks()
    {
        string root = RepositoryRoot.Path;
        return MarkdownCodeBlocks.DocumentationFiles(root)
            .SelectMany(file => MarkdownCodeBlocks.Parse(file, File.ReadAllText(Path.Combine(root, file))))
            .Where(block => block.IsCSharp);
    }

    private static string Describe(IReadOnlyList<SnippetProblem> problems)
    {
        var text = new StringBuilder($"{problems.Count} problem(s) in the documentation's C# blocks:\n");
        foreach (IGrouping<MarkdownCodeBlock?, SnippetProblem> group in problems.GroupBy(p => p.Block))
        {
            text.Append('\n').Append(group.Key?.ToString() ?? "outside any block").Append('\n');
            foreach (SnippetProblem problem in group)
            {
                text.Append("  ").Append(problem.Message).Append('\n');
            }

            if (group.Key is { } block)
            {
                string[] lines = block.Code.Split('\n');
                for (int i = 0; i < lines.Length; i++)
                {
                    text.Append($"  {block.Line + i,5} | {lines[i]}\n");
                }
            }
        }

        return text.ToString();
    }
}
