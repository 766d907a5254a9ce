using Duplex.Cli.Tests.Infrastructure;

namespace Duplex.Cli.Tests;

/// <summary><c>duplex demo</c> as the README's first command runs it: a real process against its embedded server.</summary>
public sealed class DemoCommandTests
{
    [Fact]
    public async Task Demo_RunsEveryStep_ExitsZeroAndPrintsNoSecret()
    {
        await using CliProcess demo = CliProcess.StartTool("demo");
        int exitCode = await demo.WaitForExitAsync();
        string text = demo.AllText;

        Assert.True(exitCode == 0, $"exit {exitCode}\n{text}");
        Assert.Matches(@"demo: all 9 steps passed in \d+\.\d s", text);
        Assert.Equal(9, text.Split('\n').Count(l => l.TrimStart().StartsWith("PASS ", StringComparison.Ordinal)));
        Assert.DoesNotContain("FAIL", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\u001b[", text, StringComparison.Ordinal);

        // What each step shows: the headers as the server saw them, parsed JSON, the RTT, the backoff and
        // the outbox, the rejection's details, the manager's states, TLS, the close on both sides.
        Assert.Contains("X-Tenant", text, StringComparison.Ordinal);
        Assert.Contains("acme-corp", text, StringComparison.Ordinal);
        Assert.Matches(@"Authorization\s+│\s+\[redacted, \d+ chars\]", text);
        Assert.Contains("symbol = \"DPX\" (String)", text, StringComparison.Ordinal);
        Assert.Matches(@"round trip \d", text);
        Assert.Matches(@"backoff delay \d+ ms", text);
        Assert.Contains("3 wait in the outbox", text, StringComparison.Ordinal);
        Assert.Contains("\"queued 1\", \"queued 2\", \"queued 3\"", text, StringComparison.Ordinal);
        Assert.Contains("handshake rejected: HTTP 401", text, StringComparison.Ordinal);
        Assert.Contains("body: rejected by duplex serve with status 401", text, StringComparison.Ordinal);
        Assert.Matches(@"orders\s+│\s+Open", text);
        Assert.Contains("TlsFailure UntrustedRoot", text, StringComparison.Ordinal);
        Assert.Contains("the server received close code 1000 with reason \"demo finished\"", text, StringComparison.Ordinal);

        // The demo's secrets reach the server (checked inside) but are never printed.
        Assert.DoesNotContain("demo-api-key-4f1c9a", text, StringComparison.Ordinal);
        Assert.DoesNotContain("demo-token-", text, StringComparison.Ordinal);
    }
}
