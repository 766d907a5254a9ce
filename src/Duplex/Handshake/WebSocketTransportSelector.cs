using System.Net;
using System.Net.Http;
using Duplex.Handshake.Rules;

namespace Duplex.Handshake;

/// <summary>
/// Decides which transport opens a connection: the lean <see cref="SocketWebSocketTransport"/>
/// whenever the handshake is a plain HTTP/1.1 upgrade straight to the server, and
/// <see cref="HttpWebSocketTransport"/> (SocketsHttpHandler) for everything else.
/// </summary>
/// <remarks>
/// <para>The socket transport is chosen when all of these hold:</para>
/// <list type="bullet">
/// <item>no <see cref="WebSocketHandshakeOptions.HttpMessageInvoker"/> (the caller's HTTP stack is theirs to use)
/// and no <see cref="WebSocketHandshakeOptions.ConnectCallback"/> (its context type can only be made by SocketsHttpHandler);</item>
/// <item>the handshake starts as an HTTP/1.1 upgrade (<see cref="HttpVersionRules.StartsWithHttp2"/> is false):
/// version 1.1 with any policy but <see cref="HttpVersionPolicy.RequestVersionOrHigher"/> on <c>wss://</c>, or
/// version 2.0 with <see cref="HttpVersionPolicy.RequestVersionOrLower"/> on <c>ws://</c> (cleartext HTTP/2 is
/// never tried without being required). HTTP/2 requested with <see cref="HttpVersionPolicy.RequestVersionExact"/>,
/// or on <c>wss://</c> where ALPN may pick it, goes through SocketsHttpHandler;</item>
/// <item>no proxy applies: <see cref="WebSocketHandshakeOptions.UseProxy"/> is false, or no explicit
/// <see cref="WebSocketHandshakeOptions.Proxy"/> is set and the environment's proxy
/// (<see cref="HttpClient.DefaultProxy"/>) bypasses the URI (<see cref="IWebProxy.IsBypassed"/>, or
/// <see cref="IWebProxy.GetProxy"/> returns nothing or the URI itself). A proxy that throws counts as applying.</item>
/// </list>
/// <para>
/// The same rule is applied again to every redirect target by the socket transport, which hands a
/// hop it cannot make (to a proxied host, or to <c>wss://</c> where HTTP/2 is wanted) to the HTTP
/// transport, so following redirects behaves as it would with SocketsHttpHandler alone.
/// </para>
/// </remarks>
internal static class WebSocketTransportSelector
{
    /// <summary>The transport for a connect to <paramref name="uri"/> with <paramref name="options"/>.</summary>
    public static IWebSocketTransport Choose(Uri uri, WebSocketHandshakeOptions options) =>
        CanUseSocketTransport(uri, options, HttpClient.DefaultProxy)
            ? SocketWebSocketTransport.Default
            : HttpWebSocketTransport.Default;

    /// <summary>Whether <see cref="SocketWebSocketTransport"/> can open a connection to <paramref name="uri"/> as SocketsHttpHandler would.</summary>
    /// <param name="uri">The URI in any of its forms (<c>ws</c>, <c>wss</c>, <c>http</c>, <c>https</c>).</param>
    /// <param name="options">The options, validated or not: anything unexpected answers <see langword="false"/>.</param>
    /// <param name="defaultProxy">The environment's proxy (<see cref="HttpClient.DefaultProxy"/>, or a stand-in in tests).</param>
    public static bool CanUseSocketTransport(Uri uri, WebSocketHandshakeOptions options, IWebProxy defaultProxy)
    {
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(options);
        return uri.IsAbsoluteUri &&
            uri.Scheme is "ws" or "wss" or "http" or "https" &&
            options.HttpMessageInvoker is null &&
            options.ConnectCallback is null &&
            !HttpVersionRules.StartsWithHttp2(uri, options) &&
            !(options.UseProxy && options.Proxy is not null) &&
            !IsProxied(uri, options, defaultProxy, whenUnknown: true);
    }

    /// <summary>Whether a connect to <paramref name="uri"/> goes through a proxy.</summary>
    /// <param name="uri">The URI in any of its forms; asked about in its WebSocket form, as SocketsHttpHandler is.</param>
    /// <param name="options">Whose <see cref="WebSocketHandshakeOptions.UseProxy"/> and <see cref="WebSocketHandshakeOptions.Proxy"/> apply.</param>
    /// <param name="defaultProxy">The proxy used when <see cref="WebSocketHandshakeOptions.Proxy"/> is not set.</param>
    /// <param name="whenUnknown">The answer when the proxy throws.</param>
    public static bool IsProxied(Uri uri, WebSocketHandshakeOptions options, IWebProxy defaultProxy, bool whenUnknown)
    {
        if (!options.UseProxy)
        {
            return false;
        }

        try
        {
            Uri target = uri.Scheme is "ws" or "wss" ? uri : WebSocketUriRules.ToWebSocketUri(uri);
            IWebProxy proxy = options.Proxy ?? defaultProxy;
            return !proxy.IsBypassed(target) && proxy.GetProxy(target) is { } proxyUri && proxyUri != target;
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            return whenUnknown;
        }
    }
}
