using System.Net;

namespace Duplex.Handshake.Rules;

/// <summary>Whether a connect goes through a proxy, asked the way SocketsHttpHandler asks. No I/O of its own.</summary>
internal static class ProxyRules
{
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
