using System.Globalization;
using System.Net.WebSockets;
using Duplex.Client;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Duplex's client layer: <see cref="WebSocketClient"/> with default options; an
/// <see cref="WebSocketClient.OnMessage"/> handler counts pushed messages and catches the sink's
/// reply, <see cref="WebSocketClient.ReadAllAsync"/> reads the echoes.
/// </summary>
internal sealed class DuplexClientClient : ILoopbackClient
{
    private readonly WebSocketClient _client = new();
    private IAsyncEnumerator<WebSocketClientMessage>? _reader;
    private TaskCompletionSource<long>? _pushDone;
    private TaskCompletionSource<string>? _reply;
    private int _pushTarget;
    private int _pushCount;
    private long _pushChars;
    private bool _counting;

    public DuplexClientClient()
    {
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
            else
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
        // The reader registers on its first MoveNextAsync; starting it before the send means the
        // echo can never slip past it.
        _reader ??= _client.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        ValueTask<bool> next = _reader.MoveNextAsync();
        await _client.SendTextAsync(text, cancellationToken);
        if (!await next)
        {
            throw new WebSocketException("The client's message stream ended.");
        }

        return _reader.Current.Text!.Length;
    }

    public async ValueTask<int> EchoBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        _reader ??= _client.ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        ValueTask<bool> next = _reader.MoveNextAsync();
        await _client.SendBinaryAsync(payload, cancellationToken);
        if (!await next)
        {
            throw new WebSocketException("The client's message stream ended.");
        }

        return _reader.Current.Data.Length;
    }

    public Task CloseAsync(CancellationToken cancellationToken) =>
        _client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (_reader is not null)
        {
            await _reader.DisposeAsync();
        }

        await _client.DisposeAsync();
    }
}
