using System.Net.WebSockets;

namespace Duplex.Client;

/// <summary>The built-in reconnect rules: which failures are worth another attempt, and the backoff.</summary>
internal static class ReconnectRules
{
    /// <summary>
    /// Network errors and transient server conditions are retried; answers that mean "this request
    /// will never work" are not: handshake 4xx other than 408/429, TLS and handshake-rule failures,
    /// and close codes 1002, 1003, 1007, 1008, 1009 and 1010.
    /// </summary>
    public static bool IsWorthRetrying(Exception? cause, WebSocketCloseStatus? status)
    {
        switch (cause)
        {
            case WebSocketHandshakeRejectedException rejected:
                return rejected.StatusCode is >= 500 or 408 or 429;
            case WebSocketConnectException connect:
                return connect.Error is not (WebSocketConnectError.Tls or WebSocketConnectError.InvalidHandshake or WebSocketConnectError.TooManyRedirects);
            case ArgumentException or InvalidOperationException:
                return false;
        }

        return (int?)status is not (1002 or 1003 or 1007 or 1008 or 1009 or 1010);
    }

    /// <summary>
    /// The delay before attempt <paramref name="attempt"/> (1-based), with <paramref name="random"/> r in
    /// [0, 1): the nominal delay c = min(initial × multiplier^(attempt − 1), max) is spread over a window
    /// of width 2 × jitter × c, [c × (1 − jitter), c × (1 + jitter)], shifted down where it would pass
    /// the cap so that it ends at max. The delay is top − 2 × jitter × c × (1 − r), with
    /// top = min(c × (1 + jitter), max). So delays at the cap spread over [max × (1 − 2 × jitter), max]
    /// instead of piling up on max, where many clients in a long outage would reconnect at once.
    /// </summary>
    public static TimeSpan Backoff(WebSocketReconnectOptions policy, int attempt, double random)
    {
        double max = policy.MaxDelay.TotalMilliseconds;
        double nominal = Math.Min(policy.InitialDelay.TotalMilliseconds * Math.Pow(policy.BackoffMultiplier, Math.Max(0, attempt - 1)), max);
        double top = Math.Min(nominal * (1.0 + policy.Jitter), max);
        double milliseconds = top - (2.0 * policy.Jitter * nominal * (1.0 - random));
        return TimeSpan.FromMilliseconds(Math.Max(0, milliseconds));
    }
}
