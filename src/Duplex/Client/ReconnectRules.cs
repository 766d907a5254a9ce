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
    /// The delay before attempt <paramref name="attempt"/> (1-based): exponential from the initial
    /// delay, spread by the jitter fraction using <paramref name="random"/> in [0, 1), capped.
    /// </summary>
    public static TimeSpan Backoff(WebSocketReconnectOptions policy, int attempt, double random)
    {
        double nominal = policy.InitialDelay.TotalMilliseconds * Math.Pow(policy.BackoffMultiplier, Math.Max(0, attempt - 1));
        nominal = Math.Min(nominal, policy.MaxDelay.TotalMilliseconds);
        double spread = 1.0 + (policy.Jitter * ((2.0 * random) - 1.0));
        double milliseconds = Math.Min(nominal * spread, policy.MaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(Math.Max(0, milliseconds));
    }
}
