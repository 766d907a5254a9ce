using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Client;

/// <summary>Client tests against one scripted raw server, with one deadline for the whole test.</summary>
public abstract class RawServerClientTestBase : IAsyncLifetime
{
    /// <summary>The server the client under test connects to.</summary>
    protected RawWebSocketServer Server { get; } = new();

    /// <summary>Cancelled when the test has run too long; every wait in the test uses its token.</summary>
    protected CancellationTokenSource Deadline { get; } = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Deadline.Dispose();
    }
}
