namespace Duplex.Tests.Infrastructure;

/// <summary>What a <see cref="KestrelWebSocketHost"/> saw of one request, recorded before any endpoint ran.</summary>
/// <param name="Method">The request method (<c>GET</c> for HTTP/1.1 upgrades, <c>CONNECT</c> for RFC 8441).</param>
/// <param name="Path">The request path.</param>
/// <param name="QueryString">The query string including <c>?</c>, or empty.</param>
/// <param name="Protocol">The HTTP protocol, e.g. <c>HTTP/1.1</c> or <c>HTTP/2</c>.</param>
/// <param name="Headers">The request header fields by case-insensitive name; repeated values joined with <c>", "</c>.</param>
public sealed record RecordedRequest(
    string Method,
    string Path,
    string QueryString,
    string Protocol,
    IReadOnlyDictionary<string, string> Headers);
