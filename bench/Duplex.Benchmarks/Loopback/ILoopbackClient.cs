namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// One client library driven through the loopback scenarios, each written the way an application
/// would use that library. One instance per connection.
/// </summary>
internal interface ILoopbackClient : IAsyncDisposable
{
    /// <summary>
    /// Called before <see cref="ConnectAsync"/> for S1: the push endpoint starts sending during the
    /// handshake, so event-driven clients must be counting before they connect.
    /// </summary>
    void ExpectPushed(int count);

    /// <summary>Opens the connection (for the push endpoint, the server starts sending at once).</summary>
    Task ConnectAsync(Uri uri, CancellationToken cancellationToken);

    /// <summary>S1: receives <paramref name="count"/> text messages, each materialized as a string; returns the characters seen.</summary>
    Task<long> ReceiveTextsAsync(int count, CancellationToken cancellationToken);

    /// <summary>S2: sends <paramref name="text"/> <paramref name="count"/> times, each awaited, then "done"; returns the server's count.</summary>
    Task<long> SendTextsAsync(string text, int count, CancellationToken cancellationToken);

    /// <summary>S3: one text round trip through the echo endpoint; returns the echoed length.</summary>
    ValueTask<int> EchoTextAsync(string text, CancellationToken cancellationToken);

    /// <summary>S4: one binary round trip through the echo endpoint; returns the echoed length.</summary>
    ValueTask<int> EchoBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

    /// <summary>Closes with a closing handshake.</summary>
    Task CloseAsync(CancellationToken cancellationToken);
}
