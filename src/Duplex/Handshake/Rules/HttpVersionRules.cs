using System.Net;
using System.Net.Http;

namespace Duplex.Handshake.Rules;

/// <summary>
/// Which HTTP version the handshake starts with and may fall back to: an HTTP/1.1 upgrade
/// (RFC 6455 §4.1) or an HTTP/2 extended CONNECT (RFC 8441 §4). No I/O.
/// </summary>
internal static class HttpVersionRules
{
    /// <summary>
    /// Whether the handshake starts with an HTTP/2 extended CONNECT rather than an HTTP/1.1 upgrade.
    /// Like SocketsHttpHandler for cleartext: without TLS there is no ALPN to learn whether the server
    /// speaks HTTP/2, so HTTP/2 ("h2c", prior knowledge) is used only when it is required.
    /// </summary>
    public static bool StartsWithHttp2(Uri uri, WebSocketHandshakeOptions options) =>
        WantsHttp2(options) && (WebSocketUriRules.IsSecure(uri) || !AllowsHttp11(options));

    /// <summary>Whether the options ask for HTTP/2 (version 2.0, or a policy that allows a higher version).</summary>
    public static bool WantsHttp2(WebSocketHandshakeOptions options) =>
        options.HttpVersion == HttpVersion.Version20 ||
        options.HttpVersionPolicy == HttpVersionPolicy.RequestVersionOrHigher;

    /// <summary>Whether the options allow an HTTP/1.1 upgrade (version 1.1, or a policy that allows a lower version).</summary>
    public static bool AllowsHttp11(WebSocketHandshakeOptions options) =>
        options.HttpVersion == HttpVersion.Version11 ||
        options.HttpVersionPolicy == HttpVersionPolicy.RequestVersionOrLower;
}
