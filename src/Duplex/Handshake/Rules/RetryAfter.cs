using System.Globalization;

namespace Duplex.Handshake.Rules;

/// <summary>The <c>Retry-After</c> header of a rejected handshake (RFC 9110 §10.2.3). No I/O.</summary>
internal static class RetryAfter
{
    /// <summary>
    /// The delay a <c>Retry-After</c> header asks for (RFC 9110 §10.2.3: delta-seconds or an HTTP
    /// date), never negative; <see langword="null"/> when absent or unreadable.
    /// </summary>
    public static TimeSpan? GetDelay(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, DateTimeOffset now)
    {
        IReadOnlyList<string> values = HttpFieldSyntax.GetValues(headers, "Retry-After");
        if (values.Count != 1)
        {
            return null;
        }

        string value = values[0].Trim();
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long seconds))
        {
            return seconds <= (long)TimeSpan.MaxValue.TotalSeconds ? TimeSpan.FromSeconds(seconds) : TimeSpan.MaxValue;
        }

        if (DateTimeOffset.TryParseExact(value, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset date))
        {
            TimeSpan delay = date - now;
            return delay > TimeSpan.Zero ? delay : TimeSpan.Zero;
        }

        return null;
    }
}
