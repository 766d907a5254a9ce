using Microsoft.AspNetCore.Http;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// A Kestrel host whose <c>/deflate</c> endpoint accepts WebSockets with
/// <see cref="WebSocketAcceptContext.DangerousEnableCompression"/> (ASP.NET Core's defaults for the
/// rest) and echoes every message, shared by a test class.
/// </summary>
public sealed class KestrelDeflateFixture : IAsyncLifetime
{
    /// <summary>The echo endpoint with compression enabled.</summary>
    public const string Path = "/deflate";

    private KestrelWebSocketHost? _host;

    /// <summary>The running host.</summary>
    public KestrelWebSocketHost Host => _host ?? throw new InvalidOperationException("The Kestrel fixture is not initialized.");

    /// <inheritdoc />
    public async Task InitializeAsync() =>
        _host = await KestrelWebSocketHost.StartNewAsync(KestrelTransport.Http11, static host => host.Map(Path, AcceptCompressedAsync));

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    private static Task AcceptCompressedAsync(HttpContext context) =>
        KestrelWebSocketHost.AcceptAndEchoAsync(context, new WebSocketAcceptContext { DangerousEnableCompression = true });
}
