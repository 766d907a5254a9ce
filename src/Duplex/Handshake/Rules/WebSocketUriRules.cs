using System.Globalization;

namespace Duplex.Handshake.Rules;

/// <summary>
/// WebSocket URIs and the HTTP URIs the handshake is sent to (RFC 6455 §3, RFC 6454 §4): scheme
/// mapping, TLS, user information, origins, and the host and port errors name. No I/O.
/// </summary>
internal static class WebSocketUriRules
{
    /// <summary>
    /// Turns a WebSocket URI into the HTTP URI the handshake is sent to: <c>ws</c>→<c>http</c>,
    /// <c>wss</c>→<c>https</c>; <c>http</c> and <c>https</c> are accepted as they are. User
    /// information is removed (see <see cref="GetBasicCredentials"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The URI is relative, has another scheme, or has a fragment (RFC 6455 §3).</exception>
    public static Uri ToHttpUri(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        if (!uri.IsAbsoluteUri)
        {
            throw new ArgumentException("The WebSocket URI must be absolute.", nameof(uri));
        }

        string scheme = uri.Scheme switch
        {
            "ws" or "http" => Uri.UriSchemeHttp,
            "wss" or "https" => Uri.UriSchemeHttps,
            _ => throw new ArgumentException($"The WebSocket URI scheme must be ws or wss (or http or https), not '{uri.Scheme}'.", nameof(uri)),
        };

        // RFC 6455 §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and
        // MUST NOT be used on these URIs."
        if (uri.Fragment.Length > 0)
        {
            throw new ArgumentException("The WebSocket URI must not have a fragment (RFC 6455 §3).", nameof(uri));
        }

        if (uri.Host.Length == 0)
        {
            throw new ArgumentException("The WebSocket URI must have a host.", nameof(uri));
        }

        return WithScheme(uri, scheme);
    }

    /// <summary>Turns an HTTP URI back into its WebSocket form (<c>http</c>→<c>ws</c>, <c>https</c>→<c>wss</c>).</summary>
    public static Uri ToWebSocketUri(Uri httpUri)
    {
        ArgumentNullException.ThrowIfNull(httpUri);
        return WithScheme(httpUri, IsSecure(httpUri) ? "wss" : "ws");
    }

    /// <summary>Whether the (HTTP or WebSocket) URI uses TLS.</summary>
    public static bool IsSecure(Uri uri) => uri.Scheme is "https" or "wss";

    /// <summary>
    /// The <c>user:password</c> of a URI such as <c>wss://user:pass@host/</c>, unescaped, or
    /// <see langword="null"/> when it has none. Sent as HTTP Basic authorization.
    /// </summary>
    public static string? GetBasicCredentials(Uri uri) =>
        uri.UserInfo.Length == 0 ? null : Uri.UnescapeDataString(uri.UserInfo);

    /// <summary>RFC 6454 §4: whether two URIs have the same scheme, host and port.</summary>
    public static bool IsSameOrigin(Uri a, Uri b) =>
        IsSecure(a) == IsSecure(b) &&
        string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) &&
        a.Port == b.Port;

    /// <summary>The host and port for a message: never user information, path or query.</summary>
    public static string Endpoint(Uri uri) =>
        uri.Host + ":" + uri.Port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The URI with another scheme, the same host, port, path and query.</summary>
    internal static Uri WithScheme(Uri uri, string scheme)
    {
        // HostAndPort keeps IPv6 brackets and leaves out a default port; ws/http share 80, wss/https 443.
        string rest = uri.GetComponents(UriComponents.HostAndPort | UriComponents.PathAndQuery, UriFormat.UriEscaped);
        return new Uri(scheme + "://" + rest);
    }
}
