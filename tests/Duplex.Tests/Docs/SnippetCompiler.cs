using System.Collections.Immutable;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace Duplex.Tests.Docs;

/// <summary>
/// Compiles the C# blocks of the documentation in memory, all in one compilation, each in a
/// namespace of its own so that blocks cannot see each other.
/// </summary>
/// <remarks>
/// <para>The convention a block follows (docs/README.md states it for writers):</para>
/// <list type="bullet">
/// <item>It is written as a file of a console app with implicit usings (System, System.IO,
/// System.Linq, System.Net.Http, System.Threading, System.Threading.Tasks,
/// System.Collections.Generic) and nullable annotations on; its own <c>using</c> directives come first.</item>
/// <item>Its statements become the body of <c>static async Task RunAsync(string[] args, CancellationToken cancellationToken)</c>,
/// so they may <c>await</c> and use <c>args</c> and <c>cancellationToken</c>; nothing else is in scope.</item>
/// <item>The types it declares (classes, records, interfaces, enums, delegates) sit beside that
/// method, in the block's namespace; a namespace declared in the block is dropped.</item>
/// <item>A fence written <c>```csharp ignore</c> is not compiled: only for fragments that cannot stand alone.</item>
/// </list>
/// <para>Warnings count as errors, except those a short example cannot avoid (<see cref="s_allowedWarnings"/>).</para>
/// </remarks>
internal static class SnippetCompiler
{
    private static readonly string[] s_implicitUsings =
    [
        "System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks",
    ];

    // CS1998: an async block without await; CS8321: a local function shown but not called;
    // CS0168/CS0219: a variable declared to show its type.
    private static readonly ImmutableHashSet<string> s_allowedWarnings = ["CS1998", "CS8321", "CS0168", "CS0219"];

    private static readonly CSharpParseOptions s_parseOptions = new(LanguageVersion.Latest, DocumentationMode.None);

    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(LoadReferences);

    private static readonly Lazy<ImmutableArray<ISourceGenerator>> s_generators = new(SourceGenerators);

    /// <summary>Compiles the blocks and returns every problem, each mapped to its markdown file and line.</summary>
    public static IReadOnlyList<SnippetProblem> Compile(IReadOnlyList<MarkdownCodeBlock> blocks)
    {
        var problems = new List<SnippetProblem>();
        var parsed = new List<(MarkdownCodeBlock Block, CompilationUnitSyntax Unit)>();
        foreach (MarkdownCodeBlock block in blocks)
        {
            SyntaxTree original = CSharpSyntaxTree.ParseText(block.Code, s_parseOptions);
            Diagnostic[] syntaxErrors = original.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
            if (syntaxErrors.Length > 0)
            {
                problems.AddRange(syntaxErrors.Select(d => new SnippetProblem(block, block.Line + d.Location.GetLineSpan().StartLinePosition.Line, d.ToString())));
                continue;
            }

            parsed.Add((block, (CompilationUnitSyntax)original.GetRoot()));
        }

        // Source generators name their output after the type alone, so two blocks that declare a type of
        // the same name (a JsonSerializerContext, say) go into different compilations.
        var groups = new List<(HashSet<string> Names, List<(MarkdownCodeBlock Block, CompilationUnitSyntax Unit)> Members)>();
        foreach ((MarkdownCodeBlock Block, CompilationUnitSyntax Unit) item in parsed)
        {
            string[] names = [.. DeclaredTypeNames(item.Unit)];
            var group = groups.FirstOrDefault(g => !names.Any(g.Names.Contains));
            if (group.Names is null)
            {
                group = ([], []);
                groups.Add(group);
            }

            group.Names.UnionWith(names);
            group.Members.Add(item);
        }

        int index = 0;
        foreach (var group in groups)
        {
            var trees = new List<SyntaxTree> { CSharpSyntaxTree.ParseText(GlobalUsings(), s_parseOptions, path: "ImplicitUsings.cs") };
            foreach ((MarkdownCodeBlock block, CompilationUnitSyntax unit) in group.Members)
            {
                trees.Add(CSharpSyntaxTree.ParseText(Wrap(block, unit, index), s_parseOptions, path: $"Block{index}.cs"));
                index++;
            }

            problems.AddRange(Diagnose(trees, blocks));
        }

        return problems;
    }

    private static IEnumerable<SnippetProblem> Diagnose(List<SyntaxTree> trees, IReadOnlyList<MarkdownCodeBlock> blocks)
    {
        Compilation compilation = CSharpCompilation.Create(
            "DocumentationSnippets",
            trees,
            s_references.Value,
            new CSharpCompilationOptions(
                OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable,
                concurrentBuild: true));

        ImmutableArray<Diagnostic> generatorDiagnostics = [];
        CSharpGeneratorDriver.Create(s_generators.Value, parseOptions: s_parseOptions)
            .RunGeneratorsAndUpdateCompilation(compilation, out compilation, out generatorDiagnostics);

        foreach (Diagnostic diagnostic in generatorDiagnostics.Concat(compilation.GetDiagnostics()))
        {
            bool fails = diagnostic.Severity == DiagnosticSeverity.Error
                || (diagnostic.Severity == DiagnosticSeverity.Warning && !s_allowedWarnings.Contains(diagnostic.Id));
            if (!fails)
            {
                continue;
            }

            FileLinePositionSpan mapped = diagnostic.Location.GetMappedLineSpan();
            int line = mapped.StartLinePosition.Line + 1;
            MarkdownCodeBlock? block = blocks.FirstOrDefault(b => b.File == mapped.Path && b.Line <= line && line < b.Line + b.Code.Split('\n').Length);
            yield return new SnippetProblem(block, line, diagnostic.ToString());
        }
    }

    private static IEnumerable<string> DeclaredTypeNames(CompilationUnitSyntax unit) =>
        unit.Members.SelectMany(m => m is BaseNamespaceDeclarationSyntax ns ? ns.Members : [m])
            .OfType<BaseTypeDeclarationSyntax>()
            .Select(t => t.Identifier.ValueText);

    /// <summary>The block rearranged as its own namespace: usings, a method holding its statements, its types.</summary>
    internal static string Wrap(MarkdownCodeBlock block, CompilationUnitSyntax unit, int index)
    {
        var usings = new List<SyntaxNode>(unit.Usings);
        var statements = new List<StatementSyntax>();
        var types = new List<MemberDeclarationSyntax>();
        foreach (MemberDeclarationSyntax member in unit.Members)
        {
            if (member is BaseNamespaceDeclarationSyntax ns)
            {
                usings.AddRange(ns.Usings);
                types.AddRange(ns.Members);
            }
            else if (member is GlobalStatementSyntax global)
            {
                statements.Add(global.Statement);
            }
            else
            {
                types.Add(member);
            }
        }

        var text = new StringBuilder();
        text.Append("namespace DocumentationSnippets.Block").Append(index).Append("\n{\n");
        foreach (SyntaxNode node in usings)
        {
            AppendMapped(text, block, node);
        }

        text.Append("#line hidden\ninternal static partial class Snippet\n{\n    internal static async Task RunAsync(string[] args, CancellationToken cancellationToken)\n    {\n");
        foreach (StatementSyntax statement in statements)
        {
            AppendMapped(text, block, statement);
        }

        text.Append("#line hidden\n    }\n}\n");
        foreach (MemberDeclarationSyntax type in types)
        {
            AppendMapped(text, block, type);
        }

        text.Append("#line hidden\n}\n");
        return text.ToString();
    }

    private static void AppendMapped(StringBuilder text, MarkdownCodeBlock block, SyntaxNode node)
    {
        // The node's leading trivia starts on the line after the previous node ends (or the block's first line).
        SyntaxTree tree = node.SyntaxTree;
        int firstLine = tree.GetLineSpan(node.FullSpan).StartLinePosition.Line;
        string full = node.ToFullString();
        text.Append("\n#line ").Append(block.Line + firstLine).Append(" \"").Append(block.File).Append("\"\n");

        // The full string starts at the node's full span, which may be mid-line (after a previous node on the
        // same line); pad with spaces so that columns match too.
        int column = tree.GetLineSpan(node.FullSpan).StartLinePosition.Character;
        text.Append(' ', column).Append(full).Append('\n');
    }

    private static string GlobalUsings() => string.Concat(s_implicitUsings.Select(ns => $"global using global::{ns};\n"));

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        // The test host runs with the shared frameworks this project references (.NET and ASP.NET Core)
        // and its own dependencies (Duplex, the fake clock, OpenTelemetry): the same world a user's app sees.
        string assemblies = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return [.. assemblies.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Where(path => !Path.GetFileName(path).StartsWith("Duplex.Tests", StringComparison.OrdinalIgnoreCase))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))];
    }

    /// <summary>The System.Text.Json source generator from the targeting pack, for blocks with a <c>JsonSerializerContext</c>.</summary>
    private static ImmutableArray<ISourceGenerator> SourceGenerators()
    {
        string runtime = System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory();
        var packs = new DirectoryInfo(Path.Combine(runtime, "..", "..", "..", "packs", "Microsoft.NETCore.App.Ref"));
        string? generator = packs.Exists
            ? packs.EnumerateDirectories()
                .Where(d => d.Name.StartsWith($"{Environment.Version.Major}.", StringComparison.Ordinal))
                .OrderByDescending(d => Version.TryParse(d.Name.Split('-')[0], out Version? v) ? v : new Version())
                .Select(d => Path.Combine(d.FullName, "analyzers", "dotnet", "cs", "System.Text.Json.SourceGeneration.dll"))
                .FirstOrDefault(File.Exists)
            : null;
        if (generator is null)
        {
            throw new FileNotFoundException($"The System.Text.Json source generator was not found in the targeting pack under {packs.FullName}.");
        }

        return new AnalyzerFileReference(generator, new GeneratorLoader()).GetGenerators(LanguageNames.CSharp);
    }

    private sealed class GeneratorLoader : IAnalyzerAssemblyLoader
    {
        public void AddDependencyLocation(string fullPath)
        {
        }

        public Assembly LoadFromPath(string fullPath) => Assembly.LoadFrom(fullPath);
    }
}
