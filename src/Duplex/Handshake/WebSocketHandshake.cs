using System.Buffers;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Duplex.Diagnostics;

namespace Duplex.Handshake;

/// <summary>
/// The rules of the WebSocket opening handshake (RFC 6455 §4.1, §4.2.2, §9.1, §11.3; RFC 8441) as
/// pure functions: keys, URIs, request header checks, response checks, redirects. No I/O.
/// </summary>
internal static class WebSocketHandshake
{
    /// <summary>RFC 6455 §1.3: the GUID appended to the key before hashing.</summary>
    public const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>RFC 6455 §4.1: the only protocol version this client speaks.</summary>
    public const string Version = "13";

    /// <summary>The <c>Upgrade</c> token and the RFC 8441 <c>:protocol</c> value.</summary>
    public const string WebSocketToken = "websocket";

    public const string SecWebSocketKey = "Sec-WebSocket-Key";
    public const string SecWebSocketAccept = "Sec-WebSocket-Accept";
    public const string SecWebSocketVersion = "Sec-WebSocket-Version";
    public const string SecWebSocketProtocol = "Sec-WebSocket-Protocol";
    public const string SecWebSocketExtensions = "Sec-WebSocket-Extensions";

    /// <summary>
    /// Headers the handshake sets itself, or that would corrupt the request framing; a caller may not
    /// set them through <see cref="WebSocketHandshakeOptions.Headers"/>.
    /// </summary>
    private static readonly string[] s_ownedHeaders =
    [
        "Host", "Upgrade", "Connection",
        SecWebSocketKey, SecWebSocketVersion, SecWebSocketExtensions, SecWebSocketAccept, SecWebSocketProtocol,
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

    /// <summary>Headers never carried to another origin by a redirect (besides those <see cref="Redaction"/> flags).</summary>
    private static readonly string[] s_crossOriginDropped = ["Authorization", "Cookie", "Proxy-Authorization"];

    // RFC 7230 §3.2.6: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
    private static readonly SearchValues<char> s_tokenChars =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    private static readonly SearchValues<char> s_forbiddenValueChars = SearchValues.Create("\r\n\0");

    // RFC 9110 §5.5: field-value characters a client sends — HTAB, SP and VCHAR (visible ASCII).
    private static readonly SearchValues<char> s_requestValueChars =
        SearchValues.Create("\t !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>RFC 6455 §4.1: a nonce of 16 random bytes, base64-encoded (24 characters).</summary>
    public static string CreateKey()
    {
        Span<byte> nonce = stackalloc byte[16];
        RandomNumberGenerator.Fill(nonce);
        return Convert.ToBase64String(nonce);
    }

    /// <summary>RFC 6455 §4.2.2: base64(SHA-1(key + GUID)), the value the server must return in <c>Sec-WebSocket-Accept</c>.</summary>
    public static string ComputeAccept(string key)
    {
        ArgumentNullException.ThrowIfNull(key);

        // key (24 ASCII chars) + GUID (36) fits on the stack; a longer key only happens in tests.
        int length = key.Length + AcceptGuid.Length;
        byte[]? rented = null;
        Span<byte> input = length <= 128 ? stackalloc byte[128] : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            int written = Encoding.ASCII.GetBytes(key, input);
            written += Encoding.ASCII.GetBytes(AcceptGuid, input[written..]);
            Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
#pragma warning disable CA5350 // RFC 6455 §4.2.2 mandates SHA-1; it is a checksum here, not a security primitive.
            SHA1.HashData(input[..written], hash);
#pragma warning restore CA5350
            return Convert.ToBase64String(hash);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

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

    /// <summary>Whether <paramref name="name"/> is an HTTP token (RFC 7230 §3.2.6): what header names and subprotocols must be.</summary>
    public static bool IsToken(ReadOnlySpan<char> name) =>
        name.Length > 0 && !name.ContainsAnyExcept(s_tokenChars);

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
    public static void ValidateRequestHeader(string name, string? value)
    {
        const string ParamName = nameof(WebSocketHandshakeOptions.Headers);
        if (name is null || !IsToken(name))
        {
            throw new ArgumentException(
                name is null || name.Length == 0
                    ? "A header name must not be empty."
                    : $"The header name '{Printable(name)}' is not a valid HTTP token (RFC 7230 §3.2.6).",
                ParamName);
        }

        if (IsOwnedHeader(name))
        {
            throw new ArgumentException(
                name.Equals(SecWebSocketProtocol, StringComparison.OrdinalIgnoreCase)
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
        if (value.AsSpan().ContainsAny(s_forbiddenValueChars))
        {
            throw new ArgumentException($"The value of the header '{name}' must not contain CR, LF or NUL characters.", ParamName);
        }

        // Request headers go out as ASCII (SocketsHttpHandler refuses anything else when it sends).
        if (value.AsSpan().ContainsAnyExcept(s_requestValueChars))
        {
            throw new ArgumentException($"The value of the header '{name}' must contain only printable ASCII characters and tabs.", ParamName);
        }
    }

    /// <summary>RFC 6455 §4.1: each subprotocol a non-empty token, each offered once.</summary>
    /// <exception cref="ArgumentException">A subprotocol is invalid or repeated.</exception>
    public static void ValidateSubProtocols(IList<string> subProtocols)
    {
        const string ParamName = nameof(WebSocketHandshakeOptions.SubProtocols);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string subProtocol in subProtocols)
        {
            if (subProtocol is null || !IsToken(subProtocol))
            {
                throw new ArgumentException(
                    $"The subprotocol '{Printable(subProtocol ?? string.Empty)}' is not a valid HTTP token (RFC 6455 §4.1).",
                    ParamName);
            }

            if (!seen.Add(subProtocol))
            {
                throw new ArgumentException($"The subprotocol '{subProtocol}' is offered more than once (RFC 6455 §4.1).", ParamName);
            }
        }
    }

    /// <summary>Each offer present, its name a token and unique, its header value free of CR, LF and NUL.</summary>
    /// <exception cref="ArgumentException">An offer is invalid.</exception>
    public static void ValidateExtensionOffers(IList<WebSocketExtensionOffer> offers)
    {
        const string ParamName = nameof(WebSocketHandshakeOptions.ExtensionOffers);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (WebSocketExtensionOffer offer in offers)
        {
            if (offer is null)
            {
                throw new ArgumentException("An extension offer must not be null.", ParamName);
            }

            if (!IsToken(offer.Name) || !seen.Add(offer.Name))
            {
                throw new ArgumentException($"The extension '{Printable(offer.Name)}' is not a valid token or is offered more than once.", ParamName);
            }

            string value = offer.OfferHeaderValue;
            if (string.IsNullOrWhiteSpace(value) ||
                value.AsSpan().ContainsAny(s_forbiddenValueChars) ||
                !value.AsSpan().TrimStart().StartsWith(offer.Name, StringComparison.OrdinalIgnoreCase))
            {
                throw new ArgumentException($"The offer for the extension '{offer.Name}' must start with its name and not contain CR, LF or NUL.", ParamName);
            }
        }
    }

    /// <summary>
    /// The request headers the handshake itself sends, in order. With a key, those of an HTTP/1.1
    /// upgrade (RFC 6455 §4.1: <c>Connection</c>, <c>Upgrade</c>, <c>Sec-WebSocket-Key</c>); without,
    /// those of an HTTP/2 extended CONNECT (RFC 8441 §4), which has none of the three. Then, for both,
    /// the version and the offered subprotocols and extensions.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string>> GetHandshakeHeaders(
        string? key, IList<string> subProtocols, IList<WebSocketExtensionOffer> offers)
    {
        if (key is not null)
        {
            yield return new("Connection", "Upgrade");
            yield return new("Upgrade", WebSocketToken);
            yield return new(SecWebSocketKey, key);
        }

        yield return new(SecWebSocketVersion, Version);
        if (subProtocols.Count > 0)
        {
            yield return new(SecWebSocketProtocol, string.Join(", ", subProtocols));
        }

        if (offers.Count > 0)
        {
            var values = new string[offers.Count];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = offers[i].OfferHeaderValue.Trim();
            }

            yield return new(SecWebSocketExtensions, string.Join(", ", values));
        }
    }

    /// <summary>
    /// Whether the handshake starts with an HTTP/2 extended CONNECT rather than an HTTP/1.1 upgrade.
    /// Like SocketsHttpHandler for cleartext: without TLS there is no ALPN to learn whether the server
    /// speaks HTTP/2, so HTTP/2 ("h2c", prior knowledge) is used only when it is required.
    /// </summary>
    public static bool StartsWithHttp2(Uri uri, WebSocketHandshakeOptions options) =>
        WantsHttp2(options) && (IsSecure(uri) || !AllowsHttp11(options));

    /// <summary>Whether the options ask for HTTP/2 (version 2.0, or a policy that allows a higher version).</summary>
    public static bool WantsHttp2(WebSocketHandshakeOptions options) =>
        options.HttpVersion == HttpVersion.Version20 ||
        options.HttpVersionPolicy == HttpVersionPolicy.RequestVersionOrHigher;

    /// <summary>Whether the options allow an HTTP/1.1 upgrade (version 1.1, or a policy that allows a lower version).</summary>
    public static bool AllowsHttp11(WebSocketHandshakeOptions options) =>
        options.HttpVersion == HttpVersion.Version11 ||
        options.HttpVersionPolicy == HttpVersionPolicy.RequestVersionOrLower;

    /// <summary>
    /// RFC 6455 §4.2.2 / §4.1 (client steps 2–4): the 101 response must carry
    /// <c>Upgrade: websocket</c>, a <c>Connection</c> header with the <c>upgrade</c> token, and the
    /// <c>Sec-WebSocket-Accept</c> value computed from our key.
    /// </summary>
    /// <exception cref="WebSocketConnectException">With <see cref="WebSocketConnectError.InvalidHandshake"/> when a rule is broken.</exception>
    public static void ValidateHttp11Upgrade(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, string expectedAccept)
    {
        List<string> upgrade = SplitList(GetValues(headers, "Upgrade"));
        if (upgrade.Count != 1 || !upgrade[0].Equals(WebSocketToken, StringComparison.OrdinalIgnoreCase))
        {
            throw InvalidHandshake("The server's 101 response does not carry 'Upgrade: websocket' (RFC 6455 §4.1).");
        }

        bool hasUpgradeToken = false;
        foreach (string token in SplitList(GetValues(headers, "Connection")))
        {
            hasUpgradeToken |= token.Equals("Upgrade", StringComparison.OrdinalIgnoreCase);
        }

        if (!hasUpgradeToken)
        {
            throw InvalidHandshake("The server's 101 response does not carry the 'upgrade' token in its Connection header (RFC 6455 §4.1).");
        }

        IReadOnlyList<string> accept = GetValues(headers, SecWebSocketAccept);
        if (accept.Count != 1 || !accept[0].Trim().Equals(expectedAccept, StringComparison.Ordinal))
        {
            throw InvalidHandshake("The server's Sec-WebSocket-Accept value does not match the key that was sent (RFC 6455 §4.1).");
        }
    }

    /// <summary>
    /// RFC 6455 §4.1 (client step 6): the subprotocol the server selected, spelled as we offered it,
    /// or <see langword="null"/> when it selected none.
    /// </summary>
    /// <exception cref="WebSocketConnectException">With <see cref="WebSocketConnectError.InvalidHandshake"/> when the server selected one that was not offered, or several.</exception>
    public static string? NegotiateSubProtocol(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, IList<string> offered)
    {
        List<string> selected = SplitList(GetValues(headers, SecWebSocketProtocol));
        if (selected.Count == 0)
        {
            return null;
        }

        if (selected.Count > 1)
        {
            throw InvalidHandshake("The server selected more than one subprotocol (RFC 6455 §4.2.2).");
        }

        if (offered.Count == 0)
        {
            throw InvalidHandshake($"The server selected the subprotocol {Quote(selected[0])} although none was offered (RFC 6455 §4.1).");
        }

        foreach (string candidate in offered)
        {
            if (candidate.Equals(selected[0], StringComparison.OrdinalIgnoreCase))
            {
                return candidate;
            }
        }

        throw InvalidHandshake($"The server selected the subprotocol {Quote(selected[0])}, which was not offered (RFC 6455 §4.1).");
    }

    /// <summary>
    /// RFC 6455 §4.1 (client step 5) and §9.1: every extension in the response must have been offered,
    /// at most once, and its offer must accept the parameters. Returns the negotiated header value,
    /// or <see langword="null"/> when the server named no extension.
    /// </summary>
    /// <exception cref="WebSocketConnectException">With <see cref="WebSocketConnectError.InvalidHandshake"/> when a rule is broken.</exception>
    public static string? NegotiateExtensions(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, IList<WebSocketExtensionOffer> offers)
    {
        List<string> elements = SplitList(GetValues(headers, SecWebSocketExtensions));
        if (elements.Count == 0)
        {
            return null;
        }

        var accepted = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (string element in elements)
        {
            int semicolon = element.IndexOf(';', StringComparison.Ordinal);
            string name = (semicolon < 0 ? element : element[..semicolon]).Trim();
            string parameters = semicolon < 0 ? string.Empty : element[(semicolon + 1)..].Trim();

            WebSocketExtensionOffer? offer = null;
            foreach (WebSocketExtensionOffer candidate in offers)
            {
                if (candidate.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
                {
                    offer = candidate;
                    break;
                }
            }

            if (offer is null)
            {
                throw InvalidHandshake(offers.Count == 0
                    ? $"The server answered with the extension {Quote(name)} although none was offered (RFC 6455 §9.1)."
                    : $"The server answered with the extension {Quote(name)}, which was not offered (RFC 6455 §9.1).");
            }

            if (!accepted.Add(offer.Name))
            {
                throw InvalidHandshake($"The server answered with the extension '{offer.Name}' more than once (RFC 6455 §9.1).");
            }

            if (!offer.TryAccept(parameters, out string? error))
            {
                throw InvalidHandshake(error ?? $"The server's parameters for the extension '{offer.Name}' are not acceptable.");
            }
        }

        return string.Join(", ", elements);
    }

    /// <summary>Whether the status is a redirect the handshake can follow (301, 302, 303, 307, 308).</summary>
    public static bool IsRedirect(HttpStatusCode status) => status is
        HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther or
        HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    /// <summary>
    /// The HTTP URI a redirect points to: a relative <c>Location</c> is resolved against the current
    /// URI, <c>ws</c>/<c>wss</c> locations become <c>http</c>/<c>https</c>, a fragment is dropped.
    /// </summary>
    /// <exception cref="WebSocketConnectException">
    /// With <see cref="WebSocketConnectError.InvalidHandshake"/> when the location is missing, does not
    /// resolve to a valid URI, uses another scheme, or would leave TLS (<c>wss</c> to <c>ws</c>).
    /// </exception>
    public static Uri ResolveRedirect(Uri current, Uri? location)
    {
        if (location is null)
        {
            throw InvalidHandshake("The server sent a redirect without a single, valid Location header.");
        }

        // A relative Location is the server's text: combined with the request URI it may not make a
        // valid URI (for example "//%…", an authority that is no host), which the Uri constructor
        // reports by throwing. That is a broken handshake, not a failure of ours.
        Uri? target = location;
        if (!location.IsAbsoluteUri && !Uri.TryCreate(current, location, out target))
        {
            throw InvalidHandshake("The server redirected to a Location that does not resolve to a valid URI.");
        }

        if (target.Scheme is not ("ws" or "wss" or "http" or "https") || target.Host.Length == 0)
        {
            throw InvalidHandshake($"The server redirected to a URI with the scheme '{Printable(target.Scheme)}', which is not ws, wss, http or https.");
        }

        if (target.Fragment.Length > 0 &&
            !Uri.TryCreate(target.GetComponents(UriComponents.AbsoluteUri & ~UriComponents.Fragment, UriFormat.UriEscaped), UriKind.Absolute, out target))
        {
            throw InvalidHandshake("The server redirected to a Location that does not resolve to a valid URI.");
        }

        Uri httpTarget = WithScheme(target, IsSecure(target) ? Uri.UriSchemeHttps : Uri.UriSchemeHttp);
        if (IsSecure(current) && !IsSecure(httpTarget))
        {
            throw InvalidHandshake("The server redirected from a secure (wss) to an insecure (ws) URI, which is refused.");
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

    /// <summary>
    /// The delay a <c>Retry-After</c> header asks for (RFC 9110 §10.2.3: delta-seconds or an HTTP
    /// date), never negative; <see langword="null"/> when absent or unreadable.
    /// </summary>
    public static TimeSpan? GetRetryAfter(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, DateTimeOffset now)
    {
        IReadOnlyList<string> values = GetValues(headers, "Retry-After");
        if (values.Count != 1)
        {
            return null;
        }

        string value = values[0].Trim();
        if (long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long seconds))
        {
            return seconds <= (long)TimeSpan.MaxValue.TotalSeconds ? TimeSpan.FromSeconds(seconds) : TimeSpan.MaxValue;
        }

        if (DateTimeOffset.TryParseExact(value, "r", System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset date))
        {
            TimeSpan delay = date - now;
            return delay > TimeSpan.Zero ? delay : TimeSpan.Zero;
        }

        return null;
    }

    /// <summary>All response headers, content headers included, as a case-insensitive dictionary of their raw values.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> CollectHeaders(HttpResponseMessage response)
    {
        var names = new List<string>();
        var values = new List<string>();
        Add(response.Headers.NonValidated);
        if (response.Content is not null)
        {
            Add(response.Content.Headers.NonValidated);
        }

        return new ResponseHeaders([.. names], [.. values]);

        void Add(HttpHeadersNonValidated source)
        {
            foreach (KeyValuePair<string, HeaderStringValues> header in source)
            {
                foreach (string value in header.Value)
                {
                    names.Add(header.Key);
                    values.Add(value);
                }
            }
        }
    }

    /// <summary>A failed handshake rule.</summary>
    public static WebSocketConnectException InvalidHandshake(string message, Exception? innerException = null) =>
        new(WebSocketConnectError.InvalidHandshake, message, innerException);

    /// <summary>
    /// The target of a redirect: the single <c>Location</c> value as an absolute or relative URI, or
    /// <see langword="null"/> when it is missing, repeated or not a URI.
    /// </summary>
    public static Uri? GetLocation(IReadOnlyDictionary<string, IReadOnlyList<string>> headers)
    {
        IReadOnlyList<string> values = GetValues(headers, "Location");
        return values.Count == 1 && Uri.TryCreate(values[0].Trim(), UriKind.RelativeOrAbsolute, out Uri? location) ? location : null;
    }

    /// <summary>The raw values of one header, in order; empty when absent.</summary>
    private static IReadOnlyList<string> GetValues(IReadOnlyDictionary<string, IReadOnlyList<string>> headers, string name) =>
        headers.TryGetValue(name, out IReadOnlyList<string>? values) ? values : [];

    /// <summary>
    /// RFC 9110 §5.6.1: the elements of comma-separated list values, trimmed, empty ones dropped.
    /// Commas inside quoted strings (extension parameters may be quoted) do not split.
    /// </summary>
    internal static List<string> SplitList(IReadOnlyList<string> values)
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

    private static Uri WithScheme(Uri uri, string scheme)
    {
        // HostAndPort keeps IPv6 brackets and leaves out a default port; ws/http share 80, wss/https 443.
        string rest = uri.GetComponents(UriComponents.HostAndPort | UriComponents.PathAndQuery, UriFormat.UriEscaped);
        return new Uri(scheme + "://" + rest);
    }

    /// <summary>A server-chosen value for an error message: quoted when it is a short token, otherwise left out.</summary>
    private static string Quote(string value) =>
        value.Length <= 64 && IsToken(value) ? "'" + value + "'" : "(unprintable)";

    /// <summary>A caller- or server-chosen name for an error message, with control characters removed and its length capped.</summary>
    private static string Printable(string value)
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
