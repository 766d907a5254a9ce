using System.Net;
using Duplex.Client;
using Duplex.Handshake;
using Microsoft.Extensions.Logging;

namespace Duplex.Benchmarks.Micro;

/// <summary>A transport whose "handshake" hands over a <see cref="ReplayStream"/>, so the client layer can run without a network.</summary>
internal sealed class ReplayTransport(byte[] incoming) : IWebSocketTransport
{
    private static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> s_noHeaders = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Client options whose connections replay <paramref name="incoming"/>, with keepalive off.</summary>
    public static WebSocketClientOptions ClientOptions(byte[] incoming)
    {
        var options = new WebSocketClientOptions();
        options.Connection.KeepAliveInterval = Timeout.InfiniteTimeSpan;
        options.Connection.Transport = new ReplayTransport(incoming);
        return options;
    }

    public Task<WebSocketHandshakeResult> ConnectAsync(Uri uri, WebSocketHandshakeOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var response = new WebSocketHandshakeResponse(uri, 101, HttpVersion.Version11, s_noHeaders, null, null);
        return Task.FromResult(new WebSocketHandshakeResult(new ReplayStream(incoming), response));
    }
}
