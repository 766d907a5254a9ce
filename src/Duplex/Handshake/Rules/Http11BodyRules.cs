using System.Globalization;

namespace Duplex.Handshake.Rules;

/// <summary>
/// How the body of an HTTP/1.1 response is framed (RFC 9112 §6, §7.1), read from its head and its
/// chunk-size lines. No I/O.
/// </summary>
internal static class Http11BodyRules
{
    /// <summary>RFC 9112 §6: the framing the head announces — chunked, a length, none, or until close.</summary>
    /// <param name="head">The response head.</param>
    /// <param name="contentLength">The body's length with <see cref="Http11BodyFraming.ContentLength"/>; 0 otherwise.</param>
    public static Http11BodyFraming GetFraming(Http11ResponseHead head, out long contentLength)
    {
        contentLength = 0;

        // RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no body.
        if (head.StatusCode is < 200 or 204 or 304)
        {
            return Http11BodyFraming.None;
        }

        // RFC 9112 §6.3: Transfer-Encoding wins over Content-Length; chunked must be the last coding.
        if (head.Headers.TryGetValue("Transfer-Encoding", out IReadOnlyList<string>? codings))
        {
            List<string> elements = HttpFieldSyntax.SplitList(codings);
            return elements.Count > 0 && elements[^1].Equals("chunked", StringComparison.OrdinalIgnoreCase)
                ? Http11BodyFraming.Chunked
                : Http11BodyFraming.UntilClose;
        }

        if (head.Headers.TryGetValue("Content-Length", out IReadOnlyList<string>? lengths))
        {
            // Several values (or a list) must all agree; anything else cannot be framed.
            long? agreed = null;
            foreach (string element in HttpFieldSyntax.SplitList(lengths))
            {
                if (!long.TryParse(element, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ||
                    (agreed is { } earlier && earlier != value))
                {
                    return Http11BodyFraming.None;
                }

                agreed = value;
            }

            contentLength = agreed ?? 0;
            return Http11BodyFraming.ContentLength;
        }

        return Http11BodyFraming.UntilClose;
    }

    /// <summary>RFC 9112 §7.1: <c>chunk-size [ chunk-ext ]</c>, the size in hexadecimal.</summary>
    /// <exception cref="InvalidDataException">The line does not start with a hexadecimal size of at most 15 digits.</exception>
    public static long ParseChunkSize(ReadOnlySpan<byte> line)
    {
        int end = line.IndexOfAny((byte)';', (byte)' ', (byte)'\t');
        ReadOnlySpan<byte> digits = end < 0 ? line : line[..end];
        if (digits.IsEmpty || digits.Length > 15 ||
            !long.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long size))
        {
            throw new InvalidDataException("A chunk size is not a hexadecimal number.");
        }

        return size;
    }
}
