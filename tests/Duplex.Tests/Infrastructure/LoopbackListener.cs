using System.Net;
using System.Net.Sockets;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// A TCP listener on 127.0.0.1, started at once on a port the operating system chooses: what every test server
/// here listens with, with its <c>ws://</c> address and an accept bounded by a timeout.
/// </summary>
public sealed class LoopbackListener : IDisposable
{
    private readonly TcpListener _listener;

    /// <summary>Starts listening.</summary>
    /// <param name="port">The port; 0 (the default) lets the operating system choose.</param>
    public LoopbackListener(int port = 0)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        Uri = new Uri($"ws://127.0.0.1:{Port}/");
    }

    /// <summary>The port listened on.</summary>
    public int Port { get; }

    /// <summary><c>ws://127.0.0.1:{port}/</c>.</summary>
    public Uri Uri { get; }

    /// <summary>Accepts the next TCP connection.</summary>
    /// <param name="cancellationToken">Ends the wait (a test's timeout, linked with its token).</param>
    public Task<TcpClient> AcceptAsync(CancellationToken cancellationToken) => _listener.AcceptTcpClientAsync(cancellationToken).AsTask();

    /// <summary>
    /// A port with nothing listening on it (connecting to it is refused), free for a listener to start
    /// on later: the operating system chose it, and it was let go at once.
    /// </summary>
    public static int FreePort()
    {
        using var listener = new LoopbackListener();
        return listener.Port;
    }

    /// <summary>Stops listening; a pending accept fails.</summary>
    public void Dispose() => _listener.Stop();
}
