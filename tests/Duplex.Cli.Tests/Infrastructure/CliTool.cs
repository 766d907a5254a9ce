namespace Duplex.Cli.Tests.Infrastructure;

/// <summary>Where the built tool is: <c>src/Duplex.Cli/bin/{configuration}/net10.0/Duplex.Cli.dll</c>, the configuration this test assembly was built in.</summary>
public static class CliTool
{
    private const string MarkerFile = "Duplex.slnx";

    private static readonly Lazy<string> s_repositoryRoot = new(FindRepositoryRoot);

    /// <summary>The directory that holds <c>Duplex.slnx</c>.</summary>
    public static string RepositoryRoot => s_repositoryRoot.Value;

    /// <summary>Release or Debug: the name of the folder above this assembly's target framework folder.</summary>
    public static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    /// <summary>The tool's entry assembly, run with <c>dotnet</c>.</summary>
    public static string AssemblyPath
    {
        get
        {
            string path = Path.Combine(RepositoryRoot, "src", "Duplex.Cli", "bin", Configuration, "net10.0", "Duplex.Cli.dll");
            Assert.True(File.Exists(path), $"The tool was not built at {path}.");
            return path;
        }
    }

    /// <summary>The root of the .NET installation running the tests (for DOTNET_ROOT).</summary>
    public static string DotNetRoot =>
        Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));

    /// <summary>The <c>dotnet</c> executable of that installation.</summary>
    public static string DotNet => Path.Combine(DotNetRoot, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, MarkerFile)))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No directory above '{AppContext.BaseDirectory}' contains {MarkerFile}.");
    }
}
