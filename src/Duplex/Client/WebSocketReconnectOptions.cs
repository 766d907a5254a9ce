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
