using System.Text.RegularExpressions;

namespace Duplex.Cli.Tests.Infrastructure;

/// <summary><c>duplex serve</c> running as a process, with the URL it printed.</summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private ServeProcess(CliProcess process, string url, string? fingerprint)
    {
        Process = process;
        Url = url;
        Fingerprint = fingerprint;
    }

    public CliProcess Process { get; }

    /// <summary>The base URL from the line <c>listening on …</c>, ending with a slash.</summary>
    public string Url { get; }

    /// <summary>The certificate's SHA-256 fingerprint, with <c>--tls</c>.</summary>
    public string? Fingerprint { get; }

    /// <summary>Starts <c>duplex serve --port 0</c> with these options and waits for the line that gives its URL.</summary>
    public static async Task<ServeProcess> StartAsync(params string[] options)
    {
        CliProcess process = CliProcess.StartTool(["serve", "--port", "0", .. options]);
        try
        {
            Match listening = await process.WaitForLineAsync(@"^listening on (wss?://\S+/)");
            string? fingerprint = options.Contains("--tls")
                ? (await process.WaitForLineAsync("^certificate sha256 ([0-9A-F:]{95})")).Groups[1].Value
                : null;
            return new ServeProcess(process, listening.Groups[1].Value, fingerprint);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
