namespace Duplex.Client;

/// <summary>
/// What <see cref="WebSocketClientOptions.UriFactory"/> is told about the attempt it produces the URI
/// for: enough to put a fresh token in the query, or to fail over across a list of endpoints.
/// </summary>
public sealed class WebSocketUriContext
{
    internal WebSocketUriContext(Uri connectUri, int attempt, bool isReconnect, Uri? previousUri, Exception? previousFailure)
    {
        ConnectUri = connectUri;
        Attempt = attempt;
        IsReconnect = isReconnect;
        PreviousUri = previousUri;
        PreviousFailure = previousFailure;
    }

    /// <summary>The URI given to <see cref="WebSocketClient.ConnectAsync(Uri, IReadOnlyDictionary{string, string}?, Handshake.WebSocketTlsOptions?, CancellationToken)"/>.</summary>
    public Uri ConnectUri { get; }

    /// <summary>
    /// The attempt's number, as <see cref="WebSocketConnectedContext.Attempt"/> counts: 0 for the
    /// first attempt of the first connect, then 1, 2, … for its retries
    /// (<see cref="WebSocketReconnectOptions.RetryFirstConnect"/>), and 1, 2, … again for the
    /// reconnect attempts after a loss (unless the lost connection was up too briefly to reset the
    /// count; see <see cref="WebSocketReconnectOptions.ResetAfter"/>). The retry of a 401 with
    /// headers produced again keeps the number of the attempt it repeats.
    /// </summary>
    public int Attempt { get; }

    /// <summary>Whether the attempt replaces a lost connection.</summary>
    public bool IsReconnect { get; }

    /// <summary>The URI of the previous attempt (for a reconnect's first attempt, that of the lost connection); null for the first attempt.</summary>
    public Uri? PreviousUri { get; }

    /// <summary>
    /// Why the previous attempt failed, or what ended the lost connection; null for the first attempt
    /// and after a clean close by the server.
    /// </summary>
    public Exception? PreviousFailure { get; }
}
