namespace Duplex.Diagnostics;

/// <summary>
/// Decides which header names and query parameters hold secrets, and masks their values before
/// anything is logged or put into an exception message.
/// </summary>
internal static class Redaction
{
    /// <summary>What a secret value is replaced with.</summary>
    public const string Mask = "***";

    // A header or query parameter whose name contains one of these holds a secret.
    private static readonly string[] s_sensitiveWords =
        ["token", "key", "secret", "password", "passwd", "pwd", "auth", "session", "signature", "credential", "jwt", "ticket", "cookie"];

    // Query parameter names too short to look for inside others ("sig" is in "design"): secret when
    // the whole name is one of these.
    private static readonly string[] s_sensitiveParameterNames = ["sig", "code", "pass", "otp"];

    // Headers whose value is a URL: it is logged with its query redacted like any URI.
    private static readonly string[] s_urlHeaders = ["Location", "Content-Location", "Referer", "Origin"];

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
    public static bool IsSensitiveParameter(string name) =>
        ContainsSensitiveWord(name) || Array.Exists(s_sensitiveParameterNames, n => n.Equals(name, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The header value as it may appear in a log: masked for a sensitive header, with its query
    /// redacted for a header that carries a URL (a redirect's <c>Location</c> may hold a token).
    /// </summary>
    public static string HeaderValue(string name, string? value)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (IsSensitiveHeader(name))
        {
            return Mask;
        }

        if (value is not null && Array.Exists(s_urlHeaders, h => h.Equals(name, StringComparison.OrdinalIgnoreCase)))
        {
            return UriText(value);
        }

        return value ?? string.Empty;
    }

    /// <summary>A URI given as text (absolute or relative, maybe malformed) as it may appear in a log.</summary>
    public static string UriText(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (System.Uri.TryCreate(uri, UriKind.Absolute, out Uri? absolute) && absolute.Scheme is "ws" or "wss" or "http" or "https")
        {
            return Uri(absolute);
        }

        // Relative, or not a URI we parse: no user information can be told apart, so only the query is redacted.
        int query = uri.IndexOf('?', StringComparison.Ordinal);
        if (query < 0)
        {
            return uri;
        }

        var builder = new System.Text.StringBuilder(uri.Length);
        builder.Append(uri, 0, query);
        AppendRedactedQuery(builder, uri.AsSpan(query));
        return builder.ToString();
    }

    /// <summary>
    /// The URI as it may appear in a log: user information dropped, values of sensitive query
    /// parameters masked.
    /// </summary>
    public static string Uri(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri)
        {
            return UriText(uri.OriginalString);
        }

        var builder = new System.Text.StringBuilder();
        builder.Append(uri.Scheme).Append("://").Append(uri.IdnHost is { Length: > 0 } && uri.HostNameType == UriHostNameType.IPv6 ? "[" + uri.IdnHost + "]" : uri.Host);
        if (!uri.IsDefaultPort)
        {
            builder.Append(':').Append(uri.Port);
        }

        builder.Append(uri.AbsolutePath);
        AppendRedactedQuery(builder, uri.Query);
        return builder.ToString();
    }

    /// <summary>Appends <paramref name="query"/> (empty, or starting with '?', fragment included) with sensitive values masked.</summary>
    private static void AppendRedactedQuery(System.Text.StringBuilder builder, ReadOnlySpan<char> query)
    {
        if (query.Length <= 1)
        {
            return;
        }

        // A fragment never reaches the server, and may hold a token too: it is dropped.
        int fragment = query.IndexOf('#');
        if (fragment >= 0)
        {
            query = query[..fragment];
        }

        builder.Append('?');
        bool first = true;
        foreach (string part in query[1..].ToString().Split('&'))
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
