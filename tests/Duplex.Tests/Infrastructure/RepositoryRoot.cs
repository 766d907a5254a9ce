namespace Duplex.Tests.Infrastructure;

/// <summary>Locates the repository checkout the tests run from.</summary>
public static class RepositoryRoot
{
    private const string MarkerFile = "Duplex.slnx";

    private static readonly Lazy<string> s_path = new(Find);

    /// <summary>
    /// The directory that holds <c>Duplex.slnx</c>, found by walking up from <see cref="AppContext.BaseDirectory"/>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No ancestor directory holds the solution file.</exception>
    public static string Path => s_path.Value;

    /// <summary>Combines <see cref="Path"/> with a path relative to the repository root.</summary>
    public static string Combine(params string[] relative) => System.IO.Path.Combine([Path, .. relative]);

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(directory.FullName, MarkerFile)))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException(
            $"No directory above '{AppContext.BaseDirectory}' contains {MarkerFile}.");
    }
}
