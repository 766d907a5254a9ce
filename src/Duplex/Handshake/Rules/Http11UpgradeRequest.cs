using System.Globalization;
using System.Text;

namespace Duplex.Handshake.Rules;

/// <summary>
/// The bytes of an HTTP/1.1 upgrade request (RFC 6455 §4.1, RFC 9112 §3): request line, <c>Host</c>,
/// the caller's headers and the handshake's own. No I/O.
/// </summary>
internal static class Http11UpgradeRequest
{
    /// <summary>
    /// Every header line of the request, in the order sent: <c>Host</c>, the caller's headers, then
    /// the handshake's own (<see cref="HandshakeHeaders.Get"/>).
    /// </summary>
    /// <param name="uri">The HTTP form of the URI.</param>
    /// <param name="headers">The caller's headers (validated).</param>
    /// <param name="options">The validated options (subprotocols, extensions, TLS target host).</param>
    /// <param name="key">The <c>Sec-WebSocket-Key</c> sent.</param>
    public static IEnumerable<KeyValuePair<string, string>> GetHeaders(
        Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, string key)
    {
        yield return new("Host", GetHostHeader(uri, options.Tls.TargetHost));
        foreach (KeyValuePair<string, string> header in headers)
        {
            yield return header;
        }

        foreach (KeyValuePair<string, string> header in HandshakeHeaders.Get(key, options.SubProtocols, options.ExtensionOffers))
        {
            yield return header;
        }
    }

    /// <summary>
    /// RFC 6455 §4.1: <c>GET {path} HTTP/1.1</c>, the header lines of <see cref="GetHeaders"/> and
    /// the empty line that ends the head. Names are tokens and values printable ASCII (validated),
    /// the path and host are escaped by <see cref="Uri"/>, so the text is ASCII.
    /// </summary>
    public static string Format(Uri uri, IReadOnlyDictionary<string, string> headers, WebSocketHandshakeOptions options, string key)
    {
        var request = new StringBuilder(256);
        request.Append("GET ").Append(uri.PathAndQuery).Append(" HTTP/1.1\r\n");
        foreach (KeyValuePair<string, string> header in GetHeaders(uri, headers, options, key))
        {
            request.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
        }

        return request.Append("\r\n").ToString();
    }

    /// <summary>
    /// RFC 9110 §7.2: the host, in brackets when it is an IPv6 address (without a zone), and the port
    /// when it is not the scheme's default; <see cref="WebSocketTlsOptions.TargetHost"/> replaces the
    /// host when set, as with SocketsHttpHandler.
    /// </summary>
    public static string GetHostHeader(Uri uri, string? targetHost)
    {
        string host = targetHost ?? uri.IdnHost;
        if (targetHost is null && uri.HostNameType == UriHostNameType.IPv6)
        {
            int zone = host.IndexOf('%', StringComparison.Ordinal);
            host = "[" + (zone < 0 ? host : host[..zone]) + "]";
        }

        return uri.IsDefaultPort ? host : host + ":" + uri.Port.ToString(CultureInfo.InvariantCulture);
    }
}
