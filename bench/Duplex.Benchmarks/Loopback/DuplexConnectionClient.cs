using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Duplex.Connection;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Duplex's connection layer: <see cref="WebSocketConnection"/> with default options, or with
/// <see cref="WebSocketConnectionOptions.DedicatedReceiveThread"/> alone changed.
/// </summary>
internal sealed class DuplexConnectionClient : ILoopbackClient
{
    private readonly WebSocketConnection _connection;
    private byte[] _binary = [];

    public DuplexConnectionClient(X509Certificate2? serverCertificate, bool dedicatedThread) =>
        _connection = new WebSocketConnection(new WebSocketConnectionOptions { Handshake = ClientCatalog.Handshake(serverCertificate), DedicatedReceiveThread = dedicatedThread });

    public void ExpectPushed(int count)
    {
    }

    public Task ConnectAsync(Uri uri, CancellationToken cancellationToken) => _connection.ConnectAsync(uri, cancellationToken);

    public async Task<long> ReceiveTextsAsync(int count, CancellationToken cancellationToken)
    {
        long chars = 0;
        for (int i = 0; i < count; i++)
        {
            WebSocketMessage message = await _connection.ReceiveMessageAsync(cancellationToken);
            chars += message.Text!.Length;
        }

        return chars;
    }

    public async Task<long> SendTextsAsync(string text, int count, CancellationToken cancellationToken)
    {
        for (int i = 0; i < count; i++)
        {
            await _connection.SendTextAsync(text, cancellationToken);
        }

        await _connection.SendTextAsync("done", cancellationToken);
        WebSocketMessage reply = await _connection.ReceiveMessageAsync(cancellationToken);
        return long.Parse(reply.Text!, CultureInfo.InvariantCulture);
    }

    public async ValueTask<int> EchoTextAsync(string text, CancellationToken cancellationToken)
    {
        await _connection.SendTextAsync(text, cancellationToken);
        WebSocketMessage reply = await _connection.ReceiveMessageAsync(cancellationToken);
        return reply.Text!.Length;
    }

    public async ValueTask<int> EchoBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await _connection.SendBinaryAsync(payload, cancellationToken);

        // The streaming receive into a reused buffer, as a throughput-minded application would.
        int total = 0;
        while (true)
        {
            if (total == _binary.Length)
            {
                // Grown on demand (and kept), so an idle connection holds no receive buffer.
                Array.Resize(ref _binary, Math.Max(64 * 1024, _binary.Length * 2));
            }

            ValueWebSocketReceiveResult result = await _connection.ReceiveAsync(_binary.AsMemory(total), cancellationToken);
            total += result.Count;
            if (result.EndOfMessage)
            {
                return total;
            }
        }
    }

    public Task CloseAsync(CancellationToken cancellationToken) =>
        _connection.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
