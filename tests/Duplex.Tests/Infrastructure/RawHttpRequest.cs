using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// An HTTP/1.1 request head as it arrived on the wire: request line and header fields, parsed leniently so that
/// tests can assert on exactly what a client sent.
/// </summary>
public sealed class RawHttpRequest
{
    /// <summary>The largest request head the test servers accept by default.</summary>
    public const int DefaultMaxHeadBytes = 32 * 1024;

    private RawHttpRequest(
        string head,
        string requestLine,
        string method,
        string target,
        string version,
        IReadOnlyList<KeyValuePair<string, string>> headerLines,
        IReadOnlyDictionary<string, string> headers)
    {
        Head = head;
        RequestLine = requestLine;
        Method = method;
        Target = target;
        Version = version;
        HeaderLines = headerLines;
        Headers = headers;
    }

    /// <summary>The whole head as text (Latin-1, so every byte maps to one char), without the final empty line.</summary>
    public string Head { get; }

    /// <summary>The first line, e.g. <c>GET /chat HTTP/1.1</c>.</summary>
    public string RequestLine { get; }

    /// <summary>The method token of the request line.</summary>
    public string Method { get; }

    /// <summary>The request target (path and query) of the request line.</summary>
    public string Target { get; }

    /// <summary>The protocol version of the request line, e.g. <c>HTTP/1.1</c>.</summary>
    public string Version { get; }

    /// <summary>Every header field in the order it was sent, names and values as sent (values trimmed).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> HeaderLines { get; }

    /// <summary>
    /// Header fields by case-insensitive name; a name sent more than once has its values joined with <c>", "</c>.
    /// </summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>The <c>Sec-WebSocket-Key</c> header, or <see langword="null"/> when the client sent none.</summary>
    public string? SecWebSocketKey => Headers.TryGetValue("Sec-WebSocket-Key", out var key) ? key : null;

    /// <summary>Parses a request head (everything before the empty line that ends it).</summary>
    /// <exception cref="FormatException">The head has no request line or a header line without a colon.</exception>
    public static RawHttpRequest Parse(string head)
    {
        ArgumentNullException.ThrowIfNull(head);
        var lines = head.Split("\r\n");
        var requestLine = lines[0];
        var parts = requestLine.Split(' ', 3);
        if (parts.Length != 3)
        {
            throw new FormatException($"The request line '{requestLine}' does not have three parts.");
        }

        var headerLines = new List<KeyValuePair<string, string>>();
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                throw new FormatException($"The header line '{line}' has no name followed by a colon.");
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            headerLines.Add(new(name, value));
            headers[name] = headers.TryGetValue(name, out var previous) ? previous + ", " + value : value;
        }

        return new RawHttpRequest(head, requestLine, parts[0], parts[1], parts[2], headerLines, headers);
    }

    /// <summary>
    /// Reads a request head from <paramref name="stream"/> one byte at a time, so that nothing after the head is
    /// consumed, and parses it.
    /// </summary>
    /// <exception cref="InvalidDataException">The head is longer than <paramref name="maxHeadBytes"/>.</exception>
    /// <exception cref="EndOfStreamException">The stream ended before the head did.</exception>
    public static async Task<RawHttpRequest> ReadAsync(
        Stream stream, int maxHeadBytes = DefaultMaxHeadBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var head = new List<byte>(1024);
        var one = new byte[1];
        while (true)
        {
            var read = await stream.ReadAsync(one, cancellationToken);
            if (read == 0)
            {
                throw new EndOfStreamException($"The connection ended after {head.Count} bytes of the request head.");
            }

            head.Add(one[0]);
            var count = head.Count;
            if (count >= 4 && head[count - 4] == '\r' && head[count - 3] == '\n' && head[count - 2] == '\r' && head[count - 1] == '\n')
            {
                return Parse(Encoding.Latin1.GetString(head.ToArray(), 0, count - 4));
            }

            if (count >= maxHeadBytes)
            {
                throw new InvalidDataException($"The request head is longer than {maxHeadBytes} bytes.");
            }
        }
    }
}
