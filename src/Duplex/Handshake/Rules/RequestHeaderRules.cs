using System.Buffers;

namespace Duplex.Handshake.Rules;

/// <summary>
/// Which custom request headers a caller may send on the handshake, and with which values
/// (RFC 7230 §3.2.6, RFC 9110 §5.5). No I/O.
/// </summary>
internal static class RequestHeaderRules
{
    /// <summary>
    /// Headers the handshake sets itself, or that would corrupt the request framing; a caller may not
    /// set them through <see cref="WebSocketHandshakeOptions.Headers"/>.
    /// </summary>
    private static readonly string[] s_ownedHeaders =
    [
        "Host", "Upgrade", "Connection",
        HandshakeHeaders.SecWebSocketKey, HandshakeHeaders.SecWebSocketVersion, HandshakeHeaders.SecWebSocketExtensions,
        HandshakeHeaders.SecWebSocketAccept, HandshakeHeaders.SecWebSocketProtocol,
        "Content-Length", "Transfer-Encoding",
    ];

    /// <summary>
    /// Headers that describe a request body (HttpClient's content headers); a handshake request has
    /// none, so a caller may not set them.
    /// </summary>
    private static readonly string[] s_contentHeaders =
    [
        "Allow", "Content-Disposition", "Content-Encoding", "Content-Language", "Content-Location",
        "Content-MD5", "Content-Range", "Content-Type", "Expires", "Last-Modified",
    ];

    /// <summary>Characters no header value may hold: CR and LF would end the line, NUL is never valid.</summary>
    internal static readonly SearchValues<char> ForbiddenValueChars = SearchValues.Create("\r\n\0");

    // RFC 9110 §5.5: field-value characters a client sends — HTAB, SP and VCHAR (visible ASCII).
    private static readonly SearchValues<char> s_requestValueChars =
        SearchValues.Create("\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>Whether the handshake owns this header, so a caller may not set it.</summary>
    public static bool IsOwnedHeader(string name)
    {
        foreach (string owned in s_ownedHeaders)
        {
            if (owned.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Checks one custom request header. The message names the header but never its value, which
    /// may be a secret.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The name is not a token, is owned by the handshake or describes a body, or the value holds
    /// CR, LF, NUL or any character other than printable ASCII and tabs.
    /// </exception>
    public static void Validate(string name, string? value)
    {
        const string ParamName = nameof(WebSocketHandshakeOptions.Headers);
        if (name is null || !HttpFieldSyntax.IsToken(name))
        {
            throw new ArgumentException(
                name is null || name.Length == 0
                    ? "A header name must not be empty."
                    : $"The header name '{HttpFieldSyntax.Printable(name)}' is not a valid HTTP token (RFC 7230 §3.2.6).",
                ParamName);
        }

        if (IsOwnedHeader(name))
        {
            throw new ArgumentException(
                name.Equals(HandshakeHeaders.SecWebSocketProtocol, StringComparison.OrdinalIgnoreCase)
                    ? $"The header '{name}' is set by the handshake; offer subprotocols with {nameof(WebSocketHandshakeOptions.SubProtocols)} instead."
                    : $"The header '{name}' is set by the WebSocket handshake and cannot be overridden.",
                ParamName);
        }

        if (Array.Exists(s_contentHeaders, h => h.Equals(name, StringComparison.OrdinalIgnoreCase)))
        {
            throw new ArgumentException($"The header '{name}' describes a request body and cannot be sent on a WebSocket handshake request, which has none.", ParamName);
        }

        if (value is null)
        {
            throw new ArgumentException($"The value of the header '{name}' must not be null.", ParamName);
        }

        // No header injection: a CR or LF would end the header line early, NUL is never valid.
        if (value.AsSpan().ContainsAny(ForbiddenValueChars))
        {
            throw new ArgumentException($"The value of the header '{name}' must not contain CR, LF or NUL characters.", ParamName);
        }

        // Request headers go out as ASCII (SocketsHttpHandler refuses anything else when it sends).
        if (value.AsSpan().ContainsAnyExcept(s_requestValueChars))
        {
            throw new ArgumentException($"The value of the header '{name}' must contain only printable ASCII characters and tabs.", ParamName);
        }
    }
}
