using System.Text;

namespace Duplex.Cli.Output;

/// <summary>
/// Decides which header names and query parameters hold secrets (authorization, cookies, tokens,
/// keys, passwords) and masks their values in everything the tool prints.
/// </summary>
internal static class SecretRedaction
{
    private static readonly string[] s_sensitiveWords =
        ["auth", "token", "key", "secret", "password", "passwd", "pwd", "session", "signature", "credential", "jwt", "ticket", "cookie"];

    // Names that contain a sensitive word but carry no secret.
    private static readonly string[] s_publicNames =
        ["WWW-Authenticate", "Proxy-Authenticate", "Sec-WebSocket-Key", "Sec-WebSocket-Accept"];

    /// <summary>Whether a header's value must not be printed.</summary>
    public static bool IsSensitive(string name) =>
        !Array.Exists(s_publicNames, n => n.Equals(name, StringComparison.OrdinalIgnoreCase)) &&
        Array.Exists(s_sensitiveWords, word => name.Contains(word, StringComparison.OrdinalIgnoreCase));

    /// <summary>The value to print for a header: itself, or a mask that says only how long it was.</summary>
    public static string HeaderValue(string name, string value) =>
        IsSensitive(name) ? Mask(value) : value;

    /// <summary>The mask printed in place of a secret.</summary>
    public static string Mask(string value) => $"[redacted, {value.Length} chars]";

    /// <summary>A URI with the values of sensitive query parameters and any user information masked.</summary>
    public static string Uri(Uri uri)
    {
        if (!uri.IsAbsoluteUri)
        {
            return uri.OriginalString;
        }

        var builder = new StringBuilder();
        builder.Append(uri.Scheme).Append("://");
        if (uri.UserInfo.Length > 0)
        {
            builder.Append("***@");
        }

        builder.Append(uri.Authority).Append(uri.AbsolutePath);
        string query = uri.Query;
        if (query.Length > 1)
        {
            string[] parts = query[1..].Split('&');
            for (int i = 0; i < parts.Length; i++)
            {
                int equals = parts[i].IndexOf('=', StringComparison.Ordinal);
                if (equals > 0 && IsSensitive(parts[i][..equals]))
                {
                    parts[i] = parts[i][..equals] + "=***";
                }
            }

            builder.Append('?').Append(string.Join('&', parts));
        }

        return builder.ToString();
    }
}
