using System.Buffers;
using System.Net;
using System.Text;

namespace Duplex.Handshake.Rules;

/// <summary>
/// The head of an HTTP/1.1 response (RFC 9112 §4, §5) — status line and header fields — read
/// strictly: CRLF line endings only, no obs-fold, no NUL or other control characters, tokens for
/// names, lines and the whole head bounded. Pure: it finds and parses heads in bytes already
/// received, so it is tested byte by byte.
/// </summary>
/// <remarks>Immutable once parsed.</remarks>
internal sealed class Http11ResponseHead
{
    /// <summary>The longest line (status line or header field, CRLF included) accepted.</summary>
    public const int MaxLineBytes = 8 * 1024;

    // Header names that responses to a handshake commonly carry, so parsing them allocates nothing;
    // a name that matches one ignoring case is reported in this spelling (as SocketsHttpHandler does).
    private static readonly string[] s_knownNames =
    [
        "Upgrade", "Connection", HandshakeHeaders.SecWebSocketAccept, HandshakeHeaders.SecWebSocketProtocol,
        HandshakeHeaders.SecWebSocketExtensions, "Date", "Server", "Content-Length", "Content-Type",
        "Transfer-Encoding", "Location", "Retry-After", "WWW-Authenticate", "Cache-Control", "Set-Cookie",
    ];

    // Values every 101 response carries, likewise shared.
    private static readonly string[] s_knownValues = ["websocket", "Upgrade", "upgrade", "WebSocket"];

    // RFC 9110 §5.6.2: tchar.
    private static readonly SearchValues<byte> s_tokenBytes =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"u8);

    // RFC 9110 §5.5: field-value characters are VCHAR, obs-text, SP and HTAB; everything else (CTLs
    // such as NUL, a lone CR, DEL) is refused.
    private static readonly SearchValues<byte> s_controlBytes = SearchValues.Create(
        "\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\n\u000B\u000C\r\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F\u007F"u8);

    private Http11ResponseHead(Version version, int statusCode, string? reasonPhrase, IReadOnlyDictionary<string, IReadOnlyList<string>> headers)
    {
        Version = version;
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        Headers = headers;
    }

    /// <summary>The HTTP version of the status line: 1.1, or 1.0 from a server that cannot upgrade.</summary>
    public Version Version { get; }

    /// <summary>The status code.</summary>
    public int StatusCode { get; }

    /// <summary>The reason phrase, or <see langword="null"/> when the server sent none.</summary>
    public string? ReasonPhrase { get; }

    /// <summary>The header fields, names compared case-insensitively, repeated fields in order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Headers { get; }

    /// <summary>
    /// Looks for the end of a head — the empty line — in <paramref name="received"/>, checking each
    /// line as it completes, so a hostile line fails as soon as it is seen rather than at the end.
    /// </summary>
    /// <param name="received">Everything received of this head so far (it starts at the status line).</param>
    /// <param name="scanned">How many bytes earlier calls examined; advanced. Start at 0.</param>
    /// <param name="lineStart">Where the current line starts; advanced. Start at 0.</param>
    /// <param name="error">Why the bytes cannot be a response head (completing "answered with invalid HTTP: …").</param>
    /// <returns>The length of the head, its final CRLF included; 0 while it is incomplete or when <paramref name="error"/> is set.</returns>
    public static int FindEnd(ReadOnlySpan<byte> received, ref int scanned, ref int lineStart, out string? error)
    {
        error = null;
        for (; scanned < received.Length; scanned++)
        {
            byte b = received[scanned];
            if (b == (byte)'\n')
            {
                // RFC 9112 §2.2 lets a recipient accept a bare LF; we do not, as a lenient reader is
                // what request smuggling and header injection feed on.
                if (scanned == lineStart || received[scanned - 1] != (byte)'\r')
                {
                    error = "a line that ends in a bare LF instead of CRLF";
                    return 0;
                }

                if (scanned - lineStart == 1)
                {
                    scanned++;
                    return scanned;
                }

                lineStart = scanned + 1;
            }
            else if (b == 0)
            {
                error = "a NUL byte";
                return 0;
            }
            else if (scanned - lineStart + 1 >= MaxLineBytes)
            {
                // The line already holds MaxLineBytes bytes and its LF is still to come.
                error = $"a line longer than {MaxLineBytes} bytes";
                return 0;
            }
        }

        return 0;
    }

    /// <summary>Parses a head found by <see cref="FindEnd"/>.</summary>
    /// <param name="head">The head, from the status line to its final CRLF included.</param>
    /// <param name="error">Why the head is not a valid response head (completing "answered with invalid HTTP: …").</param>
    /// <returns>The parsed head, or <see langword="null"/> with <paramref name="error"/> set.</returns>
    public static Http11ResponseHead? Parse(ReadOnlySpan<byte> head, out string? error)
    {
        int end = head.IndexOf("\r\n"u8);
        if (end < 0 || !TryParseStatusLine(head[..end], out Version? version, out int statusCode, out string? reason))
        {
            error = "a status line that is not 'HTTP/1.1 <3-digit status> <reason>'";
            return null;
        }

        var names = new List<string>();
        var values = new List<string>();
        ReadOnlySpan<byte> rest = head[(end + 2)..];
        while (true)
        {
            end = rest.IndexOf("\r\n"u8);
            if (end <= 0)
            {
                // The empty line that ends the head (FindEnd guarantees it is there).
                break;
            }

            ReadOnlySpan<byte> line = rest[..end];
            rest = rest[(end + 2)..];
            if (line[0] is (byte)' ' or (byte)'\t')
            {
                // RFC 9112 §5.2: obs-fold is deprecated; a client may reject it, and does here.
                error = "a header folded across lines (obs-fold)";
                return null;
            }

            // RFC 9112 §5.1: no whitespace between the name and the colon.
            int colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].ContainsAnyExcept(s_tokenBytes))
            {
                error = "a header line without a valid name followed by a colon";
                return null;
            }

            ReadOnlySpan<byte> value = line[(colon + 1)..].Trim(" \t"u8);
            if (value.ContainsAny(s_controlBytes))
            {
                error = "a control character in a header value";
                return null;
            }

            names.Add(Name(line[..colon]));
            values.Add(Value(value));
        }

        error = null;
        return new Http11ResponseHead(version!, statusCode, reason, new ResponseHeaders([.. names], [.. values]));
    }

    /// <summary>RFC 9112 §4: <c>HTTP/1.x SP 3DIGIT SP reason-phrase</c>; the SP before an empty reason is optional here.</summary>
    private static bool TryParseStatusLine(ReadOnlySpan<byte> line, out Version? version, out int statusCode, out string? reason)
    {
        version = null;
        statusCode = 0;
        reason = null;
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[8] != (byte)' ')
        {
            return false;
        }

        version = line[7] switch
        {
            (byte)'1' => HttpVersion.Version11,
            (byte)'0' => HttpVersion.Version10,
            _ => null,
        };
        if (version is null ||
            !char.IsAsciiDigit((char)line[9]) || !char.IsAsciiDigit((char)line[10]) || !char.IsAsciiDigit((char)line[11]) ||
            line[9] == (byte)'0')
        {
            return false;
        }

        statusCode = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
        if (line.Length == 12)
        {
            return true;
        }

        if (line[12] != (byte)' ')
        {
            return false;
        }

        ReadOnlySpan<byte> phrase = line[13..];
        if (phrase.ContainsAny(s_controlBytes))
        {
            return false;
        }

        reason = phrase.Length == 0 ? null : Encoding.Latin1.GetString(phrase);
        return true;
    }

    private static string Name(ReadOnlySpan<byte> name)
    {
        foreach (string known in s_knownNames)
        {
            if (Ascii.EqualsIgnoreCase(name, known))
            {
                return known;
            }
        }

        return Encoding.ASCII.GetString(name);
    }

    private static string Value(ReadOnlySpan<byte> value)
    {
        foreach (string known in s_knownValues)
        {
            if (Ascii.Equals(value, known))
            {
                return known;
            }
        }

        // obs-text (bytes 0x80–0xFF) is read as ISO-8859-1, as HTTP/1.1 historically defined it.
        return value.IsEmpty ? string.Empty : Encoding.Latin1.GetString(value);
    }
}
