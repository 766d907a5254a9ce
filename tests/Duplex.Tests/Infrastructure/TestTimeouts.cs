namespace Duplex.Tests.Infrastructure;

/// <summary>
/// The time limits every infrastructure wait uses, so that a broken peer fails a test instead of hanging it.
/// </summary>
public static class TestTimeouts
{
    /// <summary>The default bound for one wait in a test: an accept, a read, a handshake, a whole test body.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(10);

    /// <summary>A short bound for waits that are expected to succeed quickly or to observe that nothing happens.</summary>
    public static readonly TimeSpan Short = TimeSpan.FromSeconds(2);

    /// <summary>How long an external peer process may take to report its port.</summary>
    public static readonly TimeSpan PeerStartup = TimeSpan.FromSeconds(15);

    /// <summary>Creates a token source that cancels after <paramref name="timeout"/> (default <see cref="Default"/>).</summary>
    public static CancellationTokenSource CreateSource(TimeSpan? timeout = null) => new(timeout ?? Default);

    /// <summary>
    /// Creates a token source linked to <paramref name="cancellationToken"/> that also cancels after <paramref name="timeout"/>.
    /// </summary>
    public static CancellationTokenSource CreateLinkedSource(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        source.CancelAfter(timeout);
        return source;
    }
}
