using System.Net;
using Duplex.Diagnostics;

namespace Duplex.Handshake.Rules;

/// <summary>
/// Following a redirect during the handshake: which statuses redirect, where the <c>Location</c>
/// leads (never from TLS to cleartext), and which headers must not reach another origin. No I/O.
/// </summary>
internal static class RedirectRules
{
    /// <summary>Headers never carried to another origin by a redirect (besides those <see cref="Redaction"/> flags).</summary>
    private static readonly string[] s_crossOriginDropped = ["Authorization", "Cookie", "Proxy-Authorization"];

    /// <summary>Whether the status is a redirect the handshake can follow (301, 302, 303, 307, 308).</summary>
    public static bool IsRedirect(HttpStatusCode status) => status is
        HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther or
        HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>
    /// The target of a redirect: the single <c>Location</c> value as an absolute or relative URI, or
    /// <see langword="null"/> when it is missing, repeated or not a URI.
    /// </summary>
    public static Uri? GetLocation(IReadOnlyDictionary<string, IReadOnlyList<string>> headers)
    {
        IReadOnlyList<string> values = HttpFieldSyntax.GetValues(headers, "Location");
        return values.Count == 1 && Uri.TryCreate(values[0].Trim(), UriKind.RelativeOrAbsolute, out Uri? location) ? location : null;
    }

    /// <summary>
    /// The HTTP URI a redirect points to: a relative <c>Location</c> is resolved against the current
    /// URI, <c>ws</c>/<c>wss</c> locations become <c>http</c>/<c>https</c>, a fragment is dropped.
    /// </summary>
    /// <exception cref="WebSocketConnectException">
    /// With <see cref="WebSocketConnectError.InvalidHandshake"/> when the location is missing, does not
    /// resolve to a valid URI, uses another scheme, or would leave TLS (<c>wss</c> to <c>ws</c>).
    /// </exception>
    public static Uri Resolve(Uri current, Uri? location)
    {
        if (location is null)
        {
            throw InvalidHandshake.Create("The server sent a redirect without a single, valid Location header.");
        }

        // A relative Location is the server's text: combined with the request URI it may not make a
        // valid URI (for example "//%…", an authority that is no host), which the Uri constructor
        // reports by throwing. That is a broken handshake, not a failure of ours.
        Uri? target = location;
        if (!location.IsAbsoluteUri && !Uri.TryCreate(current, location, out target))
        {
            throw InvalidHandshake.Create("The server redirected to a Location that does not resolve to a valid URI.");
        }

        if (target.Scheme is not ("ws" or "wss" or "http" or "https") || target.Host.Length == 0)
        {
            throw InvalidHandshake.Create($"The server redirected to a URI with the scheme '{HttpFieldSyntax.Printable(target.Scheme)}', which is not ws, wss, http or https.");
        }

        if (target.Fragment.Length > 0 &&
            !Uri.TryCreate(target.GetComponents(UriComponents.AbsoluteUri & ~UriComponents.Fragment, UriFormat.UriEscaped), UriKind.Absolute, out target))
        {
            throw InvalidHandshake.Create("The server redirected to a Location that does not resolve to a valid URI.");
        }

        Uri httpTarget = WebSocketUriRules.WithScheme(target, WebSocketUriRules.IsSecure(target) ? Uri.UriSchemeHttps : Uri.UriSchemeHttp);
        if (WebSocketUriRules.IsSecure(current) && !WebSocketUriRules.IsSecure(httpTarget))
        {
            throw InvalidHandshake.Create("The server redirected from a secure (wss) to an insecure (ws) URI, which is refused.");
        }

        return httpTarget;
    }

    /// <summary>
    /// Removes the headers that must not follow a redirect to another origin: <c>Authorization</c>,
    /// <c>Cookie</c>, <c>Proxy-Authorization</c> and every header <see cref="Redaction"/> flags as secret.
    /// </summary>
    /// <returns>How many headers were removed.</returns>
    public static int RemoveCrossOriginHeaders(Dictionary<string, string> headers)
    {
        List<string>? remove = null;
        foreach (string name in headers.Keys)
        {
            if (Redaction.IsSensitiveHeader(name) || Array.Exists(s_crossOriginDropped, h => h.Equals(name, StringComparison.OrdinalIgnoreCase)))
            {
                (remove ??= []).Add(name);
            }
        }

        if (remove is null)
        {
            return 0;
        }

        foreach (string name in remove)
        {
            headers.Remove(name);
        }

        return remove.Count;
    }
}
