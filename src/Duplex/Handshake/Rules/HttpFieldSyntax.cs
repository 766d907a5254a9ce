using System.Buffers;
using System.Text;

namespace Duplex.Handshake.Rules;

/// <summary>
/// The pieces of HTTP field syntax the handshake reads and writes (RFC 9110 §5.6): tokens,
/// comma-separated lists, and how a peer's or caller's text is shown in an error message. No I/O.
/// </summary>
internal static class HttpFieldSyntax
{
    // RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    private static readonly SearchValues<char> s_tokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <summary>Whether <paramref name="name"/> is an HTTP token (RFC 7230 §3.2.6): what header names and subprotocols must be.</summary>
    public static bool IsToken(ReadOnlySpan<char> name) =>
        name.Length > 0 && !name.ContainsAnyExcept(s_tokenChars);

    /// <summary>The raw values of one header, in order; empty when absent.</summary>
    public static IReadOnlyList<string> GetValues(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, string name) =>
        headers.TryGetValue(name, out IReadOnlyList<string>? values) ? values : [];

    /// <summary>
    /// RFC 9110 §5.6.1: the elements of comma-separated list values, trimmed, empty ones dropped.
    /// Commas inside quoted strings (extension parameters may be quoted) do not split.
    /// </summary>
    public static List<string> SplitList(IReadOnlyList<string> values)
    {
        var elements = new List<string>();
        foreach (string value in values)
        {
            int start = 0;
            bool quoted = false;
            for (int i = 0; i <= value.Length; i++)
            {
                if (i < value.Length)
                {
                    char c = value[i];
                    if (c == '"')
                    {
                        quoted = !quoted;
                        continue;
                    }

                    if (c == '\\' && quoted)
                    {
                        i++;
                        continue;
                    }

                    if (c != ',' || quoted)
                    {
                        continue;
                    }
                }

                string element = value[start..Math.Min(i, value.Length)].Trim();
                if (element.Length > 0)
                {
                    elements.Add(element);
                }

                start = i + 1;
            }
        }

        return elements;
    }

    /// <summary>A server-chosen value for an error message: quoted when it is a short token, otherwise left out.</summary>
    public static string Quote(string value) =>
        value.Length <= 64 && IsToken(value) ? "'" + value + "'" : "(unprintable)";

    /// <summary>A caller- or server-chosen name for an error message, with control characters removed and its length capped.</summary>
    public static string Printable(string value)
    {
        var builder = new StringBuilder(Math.Min(value.Length, 64));
        foreach (char c in value)
        {
            if (builder.Length == 64)
            {
                builder.Append('…');
                break;
            }

            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.ToString();
    }
}
