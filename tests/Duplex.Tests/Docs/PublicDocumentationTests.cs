using System.Xml.Linq;
using Duplex.Client;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Duplex.Tests.Docs;

/// <summary>
/// The XML documentation shipped beside Duplex.dll (and in the package) documents the public API and
/// nothing else: src/PublicDocumentation.targets removes what the compiler wrote for internal members.
/// The IDs are checked against Roslyn's own, computed from the built assembly.
/// </summary>
public sealed class PublicDocumentationTests
{
    private static readonly Lazy<(HashSet<string> Documented, HashSet<string> Public, HashSet<string> Commented)> s_ids = new(ReadIds);

    [Fact]
    public void DocumentationFile_HasNoInternalType()
    {
        HashSet<string> documented = s_ids.Value.Documented;

        Assert.DoesNotContain(documented, id => id.Contains("Duplex.Connection.Send.FrameSender", StringComparison.Ordinal));
        Assert.DoesNotContain(documented, id => id.Contains("Duplex.Protocol.FrameDecoder", StringComparison.Ordinal));
        Assert.DoesNotContain("T:Duplex.Diagnostics.DuplexTelemetry", documented);
        Assert.DoesNotContain("M:Duplex.Client.WebSocketClientOptions.Snapshot", documented);
    }

    [Fact]
    public void DocumentationFile_DocumentsOnlyThePublicApi()
    {
        (HashSet<string> documented, HashSet<string> visible, _) = s_ids.Value;

        string[] extra = [.. documented.Except(visible).Order(StringComparer.Ordinal)];

        Assert.True(extra.Length == 0, "Documented but not public:\n" + string.Join('\n', extra));
    }

    [Fact]
    public void DocumentationFile_DocumentsEveryPublicMember()
    {
        (HashSet<string> documented, _, HashSet<string> commented) = s_ids.Value;

        string[] missing = [.. commented.Except(documented).Order(StringComparer.Ordinal)];

        Assert.True(missing.Length == 0, "Public but not documented:\n" + string.Join('\n', missing));
    }

    private static (HashSet<string> Documented, HashSet<string> Public, HashSet<string> Commented) ReadIds()
    {
        string assemblyPath = typeof(WebSocketClient).Assembly.Location;
        string xmlPath = Path.ChangeExtension(assemblyPath, ".xml");
        Assert.True(File.Exists(xmlPath), $"No documentation file at {xmlPath}.");

        HashSet<string> documented = [.. XDocument.Load(xmlPath).Descendants("member").Select(m => (string)m.Attribute("name")!)];

        string[] platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        CSharpCompilation compilation = CSharpCompilation.Create(
            "Inspect",
            references: platform.Where(p => p.EndsWith(".dll", StringComparison.OrdinalIgnoreCase)).Select(p => MetadataReference.CreateFromFile(p)));
        IAssemblySymbol duplex = compilation.SourceModule.ReferencedAssemblySymbols.Single(a => a.Name == "Duplex");

        var visible = new HashSet<string>(StringComparer.Ordinal);
        var commented = new HashSet<string>(StringComparer.Ordinal);
        foreach (INamedTypeSymbol type in Types(duplex.GlobalNamespace).Where(IsVisible))
        {
            visible.Add(type.GetDocumentationCommentId()!);
            commented.Add(type.GetDocumentationCommentId()!);
            foreach (ISymbol member in type.GetMembers().Where(m => m is not INamedTypeSymbol && !m.IsImplicitlyDeclared && IsVisible(m)))
            {
                // Accessors are documented through their property or event; the compiler writes no entry for them.
                if (member is IMethodSymbol { MethodKind: MethodKind.PropertyGet or MethodKind.PropertySet or MethodKind.EventAdd or MethodKind.EventRemove })
                {
                    continue;
                }

                // What the compiler writes itself (record members, default constructors) may have no comment.
                bool generated = member.GetAttributes().Any(a => a.AttributeClass?.Name == "CompilerGeneratedAttribute")
                    || member is IMethodSymbol { MethodKind: MethodKind.Constructor, Parameters.IsEmpty: true };
                if (member.GetDocumentationCommentId() is { } id)
                {
                    visible.Add(id);
                    if (!generated)
                    {
                        commented.Add(id);
                    }
                }
            }
        }

        return (documented, visible, commented);
    }

    private static IEnumerable<INamedTypeSymbol> Types(INamespaceSymbol ns) =>
        ns.GetTypeMembers().SelectMany(Nested).Concat(ns.GetNamespaceMembers().SelectMany(Types));

    private static IEnumerable<INamedTypeSymbol> Nested(INamedTypeSymbol type) => [type, .. type.GetTypeMembers().SelectMany(Nested)];

    private static bool IsVisible(ISymbol symbol)
    {
        for (ISymbol? s = symbol; s is not null and not INamespaceSymbol; s = s.ContainingSymbol)
        {
            bool shown = s.DeclaredAccessibility switch
            {
                Accessibility.Public => true,
                Accessibility.Protected or Accessibility.ProtectedOrInternal => s.ContainingType is { IsSealed: false },
                _ => false,
            };
            if (!shown)
            {
                return false;
            }
        }

        return true;
    }
}
