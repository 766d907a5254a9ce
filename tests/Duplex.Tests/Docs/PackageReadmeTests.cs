using System.Text.RegularExpressions;
using System.Xml.Linq;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Docs;

/// <summary>The package page stands on its own: nuget.org shows the packed README without the repository beside it.</summary>
public sealed partial class PackageReadmeTests
{
    [Fact]
    public void PackageReadme_HasNoRelativeLinks()
    {
        string text = File.ReadAllText(RepositoryRoot.Combine("src", "Duplex", "PACKAGE.md"));

        string[] relative = [.. Link().Matches(text).Select(m => m.Groups["target"].Value)
            .Where(target => !target.StartsWith("https://", StringComparison.Ordinal) && !target.StartsWith('#'))];

        Assert.True(relative.Length == 0, "Links that do not resolve on a package page: " + string.Join(", ", relative));
    }

    [Fact]
    public void Project_PacksThePackageReadmeAsTheReadme()
    {
        XDocument project = XDocument.Load(RepositoryRoot.Combine("src", "Duplex", "Duplex.csproj"));

        string? readme = project.Descendants("PackageReadmeFile").SingleOrDefault()?.Value;
        XElement? packed = project.Descendants("None").SingleOrDefault(e => (string?)e.Attribute("Pack") == "true" && ((string?)e.Attribute("Include"))?.EndsWith(".md", StringComparison.Ordinal) == true);

        Assert.Equal("README.md", readme);
        Assert.NotNull(packed);
        Assert.Equal("PACKAGE.md", (string?)packed.Attribute("Include"));
        Assert.Equal("/README.md", (string?)packed.Attribute("PackagePath"));
    }

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex Link();
}
