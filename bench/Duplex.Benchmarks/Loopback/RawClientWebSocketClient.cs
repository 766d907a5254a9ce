using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// .NET's <see cref="ClientWebSocket"/> used directly: the <see cref="Memory{T}"/> overloads
/// (ValueTask), a reused receive buffer, text encoded into a reused send buffer and decoded with
/// <see cref="Encoding.UTF8"/> per message.
/// </summary>
internal sealed class RawClientWebSocketClient : ILoopbackClient
{
    private readonly ClientWebSocket _socket;
    private readonly byte[] _send = new byte[256];
    private byte[] _receive = [];

    public RawClientWebSocketClient(X509Certificate2? serverCertificate) => _socket = ClientCatalog.CreateClientWebSocket(serverCertificate);

    public void ExpectPushed(int count)
    {
    }

    public Task ConnectAsync(Uri uri, CancellationToken cancellationToken) => _socket.ConnectAsync(uri, cancellationToken);

    public async Task<long> ReceiveTextsAsync(int count, CancellationToken cancellationToken)
    {
        long chars = 0;
        for (int i = 0; i < count; i++)
        {
            chars += (await ReceiveTextAsync(cancellationToken)).Length;
        }

        return chars;
    }

    public async Task<long> SendTextsAsync(string text, int count, CancellationToken cancellationToken)
    {
        for (int i = 0; i < count; i++)
        {
            await SendTextAsync(text, cancellationToken);
        }

        await SendTextAsync("done", cancellationToken);
        return long.Parse(await ReceiveTextAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    public async ValueTask<int> EchoTextAsync(string text, CancellationToken cancellationToken)
    {
        await SendTextAsync(text, cancellationToken);
        return (await ReceiveTextAsync(cancellationToken)).Length;
    }

    public async ValueTask<int> EchoBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        await _socket.SendAsync(payload, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
        return await ReceiveWholeAsync(cancellationToken);
    }

    public Task CloseAsync(CancellationToken cancellationToken) =>
        _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    private ValueTask SendTextAsync(string text, CancellationToken cancellationToken)
    {
        int length = Encoding.UTF8.GetBytes(text, _send);
        return _socket.SendAsync(_send.AsMemory(0, length), WebSocketMessageType.Text, endOfMessage: true, cancellationToken);
    }

    private async ValueTask<string> ReceiveTextAsync(CancellationToken cancellationToken)
    {
        int length = await ReceiveWholeAsync(cancellationToken);
        return Encoding.UTF8.GetString(_receive, 0, length);
    }

    private async ValueTask<int> ReceiveWholeAsync(CancellationToken cancellationToken)
    {
        int total = 0;
        while (true)
        {
            if (total == _receive.Length)
            {
                // Grown on demand (and kept), so an idle connection holds no receive buffer.
                Array.Resize(ref _receive, Math.Max(4096, _receive.Length * 2));
            }

            ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(_receive.AsMemory(total), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                throw new WebSocketException("The server closed the connection.");
            }

            total += result.Count;
            if (result.EndOfMessage)
            {
                return total;
            }
        }
    }
}
