using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Duplex.Cli.Tests.Infrastructure;

/// <summary>
/// A TCP server on 127.0.0.1 (a free port) that serves each connection it accepts on a task of its own until it is
/// disposed; the base of the test servers written on bare sockets. A connection that goes away ends its task quietly.
/// </summary>
public abstract class LoopbackTcpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _accepting;

    protected LoopbackTcpServer()
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    /// <summary>The port the server listens on.</summary>
    protected int Port { get; }

    /// <summary>Cancelled when the server is disposed.</summary>
    protected CancellationToken Stopping => _stopping.Token;

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or TimeoutException)
        {
            // Stopped.
        }

        _stopping.Dispose();
    }

    /// <summary>Serves one accepted connection; the base disposes it afterwards.</summary>
    protected abstract Task ServeAsync(TcpClient client, NetworkStream stream);

    /// <summary>Reads an HTTP request head, up to and including its empty line, one byte at a time (nothing after it).</summary>
    protected async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var head = new StringBuilder();
        byte[] one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one, Stopping) == 0 || head.Length > 16 * 1024)
            {
                throw new IOException("The request head ended early.");
            }

            head.Append((char)one[0]);
        }

        return head.ToString();
    }

    private async Task AcceptAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            TcpClient client = await _listener.AcceptTcpClientAsync(_stopping.Token);
            _ = Task.Run(() => ServeOneAsync(client));
        }
    }

    private async Task ServeOneAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                await ServeAsync(client, client.GetStream());
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or EndOfStreamException)
            {
                // The other side went away, or the server is stopping.
            }
        }
    }
}
