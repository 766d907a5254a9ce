using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using Duplex.Client;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Duplex's client layer: <see cref="WebSocketClient"/> with default options (or with the connection's
/// <c>DedicatedReceiveThread</c> alone changed); one
/// <see cref="WebSocketClient.OnMessage"/> handler counts pushed messages, catches the sink's reply,
/// and hands each echo to the waiting round trip (which then continues inside the handler, as a
/// request/response written in a handler would).
/// </summary>
internal sealed class DuplexClientClient : ILoopbackClient
{
    private readonly WebSocketClient _client;
    private readonly InlineSignal<int> _echo = new();
    private TaskCompletionSource<long>? _pushDone;
    private TaskCompletionSource<string>? _reply;
    private int _pushTarget;
    private int _pushCount;
    private long _pushChars;
    private bool _counting;

    public DuplexClientClient(X509Certificate2? serverCertificate, bool dedicatedThread)
    {
        var options = new WebSocketClientOptions();
        options.Connection.Handshake = ClientCatalog.Handshake(serverCertificate);
        options.Connection.DedicatedReceiveThread = dedicatedThread;
        _client = new WebSocketClient(options);
        _client.OnMessage((message, _) =>
        {
            if (_counting)
            {
                _pushChars += message.Text!.Length;
                if (++_pushCount == _pushTarget)
                {
                    _pushDone!.TrySetResult(_pushChars);
                }
            }
            else if (!_echo.TrySet(message.Text?.Length ?? message.Data.Length))
            {
                _reply?.TrySetResult(message.Text ?? string.Empty);
            }

            return ValueTask.CompletedTask;
        });
    }

    public void ExpectPushed(int count)
    {
        _counting = true;
        _pushTarget = count;
        _pushDone = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public Task ConnectAsync(Uri uri, CancellationToken cancellationToken) => _client.ConnectAsync(uri, null, null, cancellationToken);

    public async Task<long> ReceiveTextsAsync(int count, CancellationToken cancellationToken) =>
        await _pushDone!.Task.WaitAsync(cancellationToken);

    public async Task<long> SendTextsAsync(string text, int count, CancellationToken cancellationToken)
    {
        for (int i = 0; i < count; i++)
        {
            await _client.SendTextAsync(text, cancellationToken);
        }

        _reply = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _client.SendTextAsync("done", cancellationToken);
        string reply = await _reply.Task.WaitAsync(cancellationToken);
        return long.Parse(reply, CultureInfo.InvariantCulture);
    }

    public async ValueTask<int> EchoTextAsync(string text, CancellationToken cancellationToken)
    {
        ValueTask<int> echo = _echo.Arm(cancellationToken);
        await _client.SendTextAsync(text, cancellationToken);
        return await echo;
    }

    public async ValueTask<int> EchoBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ValueTask<int> echo = _echo.Arm(cancellationToken);
        await _client.SendBinaryAsync(payload, cancellationToken);
        return await echo;
    }

    public Task CloseAsync(CancellationToken cancellationToken) =>
        _client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        _echo.Dispose();
        await _client.DisposeAsync();
    }
}
