namespace Duplex.Diagnostics;

/// <summary>
/// Decides which header names and query parameters hold secrets, and masks their values before
/// anything is logged or put into an exception message.
/// </summary>
internal static class Redaction
{
    /// <summary>What a secret value is replaced with.</summary>
    public const string Mask = "***";

    private static readonly string[] s_sensitiveWords = ["token", "key", "secret", "password", "passwd", "auth", "session", "signature", "credential"];

    /// <summary>Whether a header value must never be logged.</summary>
    public static bool IsSensitiveHeader(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) ||
            name.Equals("Set-Cookie", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return ContainsSensitiveWord(name);
    }

    /// <summary>Whether a query-string parameter value must never be logged.</summary>
    public static bool IsSensitiveParameter(string name) => ContainsSensitiveWord(name);

    /// <summary>The header value as it may appear in a log.</summary>
    public static string HeaderValue(string name, string? value) =>
        IsSensitiveHeader(name) ? Mask : value ?? string.Empty;

    /// <summary>
    /// The URI as it may appear in a log: user information dropped, values of sensitive query
    /// parameters masked.
    /// </summary>
    public static string Uri(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri)
        {
            return uri.OriginalString;
        }

        var builder = new System.Text.StringBuilder();
        builder.Append(uri.Scheme).Append("://").Append(uri.IdnHost is { Length: > 0 } && uri.HostNameType == UriHostNameType.IPv6 ? "[" + uri.IdnHost + "]" : uri.Host);
        if (!uri.IsDefaultPort)
        {
            builder.Append(':').Append(uri.Port);
        }

        builder.Append(uri.AbsolutePath);
        string query = uri.Query;
        if (query.Length > 1)
        {
            builder.Append('?');
            bool first = true;
            foreach (string part in query[1..].Split('&'))
            {
                if (!first)
                {
                    builder.Append('&');
                }

                first = false;
                int eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && IsSensitiveParameter(System.Net.WebUtility.UrlDecode(part[..eq])))
                {
                    builder.Append(part, 0, eq + 1).Append(Mask);
                }
                else
                {
                    builder.Append(part);
                }
            }
        }

        return builder.ToString();
    }

    private static bool ContainsSensitiveWord(string name)
    {
        foreach (string word in s_sensitiveWords)
        {
            if (name.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
