namespace Duplex.Client;

/// <summary>
/// When and how fast a <see cref="WebSocketClient"/> reconnects after losing its connection.
/// Delays grow exponentially from <see cref="InitialDelay"/> to <see cref="MaxDelay"/>, each with
/// random jitter so that many clients do not come back in lockstep.
/// </summary>
public sealed class WebSocketReconnectOptions
{
    /// <summary>Whether to reconnect at all. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The delay before the first reconnect attempt. Default 1 second.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The cap on the delay between attempts. Default 30 seconds.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How much each delay grows over the previous one. Default 2.</summary>
    public double BackoffMultiplier { get; set; } = 2.0;

    /// <summary>
    /// Random spread of every delay, as a fraction: 0.2 makes a delay anywhere from 80 % to 120 % of
    /// its nominal value. Delays never pass <see cref="MaxDelay"/>: at the cap the window of the same
    /// width ends at it (60 % to 100 % of <see cref="MaxDelay"/> for 0.2), so clients waiting out a
    /// long outage keep coming back spread apart. Default 0.2.
    /// </summary>
    public double Jitter { get; set; } = 0.2;

    /// <summary>Give up after this many failed attempts in a row; null for no limit. Default null.</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>Give up when reconnecting has gone on this long; <see cref="Timeout.InfiniteTimeSpan"/> for no limit. Default no limit.</summary>
    public TimeSpan MaxElapsedTime { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// A connection must stay up this long before the delays start again from
    /// <see cref="InitialDelay"/>, so a server that accepts and at once closes cannot cause a tight
    /// reconnect loop. Default 10 seconds.
    /// </summary>
    public TimeSpan ResetAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Overrides the decision whether a given loss or failure is worth another attempt; the context
    /// carries the built-in decision (<see cref="WebSocketReconnectContext.DefaultDecision"/>). Null
    /// keeps the built-in rules.
    /// </summary>
    public Func<WebSocketReconnectContext, bool>? ShouldReconnect { get; set; }

    /// <summary>
    /// Whether the first connect follows this policy too, for a service that may start before its
    /// server. Default false: the first
    /// <see cref="WebSocketClient.ConnectAsync(Uri, IReadOnlyDictionary{string, string}?, Handshake.WebSocketTlsOptions?, CancellationToken)"/>
    /// makes one attempt and throws its failure, so configuration mistakes surface at once.
    /// </summary>
    /// <remarks>
    /// <para>With it on, a failed first attempt is decided like a failed reconnect attempt: the
    /// built-in rules, then <see cref="ShouldReconnect"/> (its context says
    /// <see cref="WebSocketReconnectContext.IsFirstConnect"/>), the backoff with jitter, and
    /// <see cref="MaxAttempts"/> and <see cref="MaxElapsedTime"/>, counted from the start of the
    /// connect. Retried: refused connections, DNS failures, network errors, the open timeout, a
    /// connection lost during the handshake, handshake answers 5xx, 408 and 429 (a
    /// <c>Retry-After</c> makes the wait at least that long). Thrown at once: 401 and 403 (after the
    /// one-time retry with headers produced again that
    /// <see cref="WebSocketClientOptions.HeadersFactory"/> gets), any other 4xx, TLS and certificate
    /// failures, a server that breaks the handshake rules, too many redirects, and usage errors
    /// (an invalid URI or scheme, a header that is not allowed, a factory that returns null), which
    /// <see cref="ShouldReconnect"/> is not asked about.</para>
    /// <para>The first attempt is attempt 0; the retries are numbered 1, 2, … as reconnect attempts
    /// are, so <see cref="MaxAttempts"/> bounds the retries after the first attempt. While the client
    /// retries, <see cref="WebSocketClient.State"/> reads
    /// <see cref="WebSocketClientState.Disconnected"/> during each wait and
    /// <see cref="WebSocketClientState.Connecting"/> during each attempt, and
    /// <see cref="WebSocketClient.IsReconnecting"/> is true. Every failed attempt is logged (a Warning)
    /// and goes to the <c>OnError</c> handlers. The connect completes once a connection is open and
    /// the connect handlers have run; it fails with the cause of the last attempt when the policy
    /// stops (the state is then <see cref="WebSocketClientState.Closed"/>, as after any failed first
    /// connect), with <see cref="OperationCanceledException"/> when its token is cancelled, and with
    /// <see cref="WebSocketClosedException"/> when the client is closed or disposed meanwhile.</para>
    /// <para>Has no effect while <see cref="Enabled"/> is false.</para>
    /// </remarks>
    public bool RetryFirstConnect { get; set; }

    internal WebSocketReconnectOptions Snapshot()
    {
        OptionRules.Positive(InitialDelay, nameof(InitialDelay));
        OptionRules.Positive(MaxDelay, nameof(MaxDelay));
        if (MaxDelay < InitialDelay)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, "MaxDelay must not be shorter than InitialDelay.");
        }

        if (!(BackoffMultiplier >= 1.0) || double.IsInfinity(BackoffMultiplier))
        {
            throw new ArgumentOutOfRangeException(nameof(BackoffMultiplier), BackoffMultiplier, "BackoffMultiplier must be at least 1.");
        }

        if (!(Jitter >= 0.0 && Jitter <= 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(Jitter), Jitter, "Jitter must be between 0 and 1.");
        }

        if (MaxAttempts is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "MaxAttempts must be at least 1, or null for no limit.");
        }

        Connection.WebSocketConnectionOptions.ValidateTimeout(MaxElapsedTime, nameof(MaxElapsedTime));
        OptionRules.Positive(ResetAfter, nameof(ResetAfter));
        return (WebSocketReconnectOptions)MemberwiseClone();
    }
}
