namespace Duplex.Tests.Infrastructure;

/// <summary>
/// Starts one <see cref="PeerServer"/> for all tests of a class (<c>IClassFixture&lt;T&gt;</c>) and ends it afterwards.
/// </summary>
public abstract class PeerServerFixture : IAsyncLifetime
{
    private PeerServer? _server;

    /// <summary>Creates a fixture for the given peer.</summary>
    protected PeerServerFixture(PeerKind kind) => Kind = kind;

    /// <summary>Creates a fixture for the given peer started with command-line <paramref name="arguments"/>.</summary>
    protected PeerServerFixture(PeerKind kind, params string[] arguments)
    {
        Kind = kind;
        Arguments = arguments;
    }

    /// <summary>The peer's command-line arguments.</summary>
    public IReadOnlyList<string> Arguments { get; } = [];

    /// <summary>Which peer the fixture runs.</summary>
    public PeerKind Kind { get; }

    /// <summary>The running peer.</summary>
    /// <exception cref="InvalidOperationException">The fixture is not initialized.</exception>
    public PeerServer Server => _server ?? throw new InvalidOperationException("The peer fixture is not initialized.");

    /// <summary>The peer's <c>ws://127.0.0.1:{port}/</c>.</summary>
    public Uri BaseUri => Server.BaseUri;

    /// <summary>Builds the address of <paramref name="pathAndQuery"/> on the peer.</summary>
    public Uri GetUri(string pathAndQuery) => Server.GetUri(pathAndQuery);

    /// <inheritdoc />
    public async Task InitializeAsync() => _server = await PeerServer.StartAsync(Kind, Arguments);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
