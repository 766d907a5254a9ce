using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Websocket.Client;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Websocket.Client 5.5.1: messages through its <c>MessageReceived</c> observable, sends through
/// <c>SendInstant</c> (its awaitable send; <c>Send</c> only queues and returns a bool, so it cannot
/// tell when a message was written). Its timers that reconnect a quiet connection are turned off.
/// An echo is handed from the observable's callback to the waiting round trip, which continues
/// inside the callback (as Duplex's client does from its handler).
/// </summary>
internal sealed class WebsocketClientClient : ILoopbackClient
{
    private readonly Channel<ResponseMessage> _replies = Channel.CreateUnbounded<ResponseMessage>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly InlineSignal<int> _echo = new();
    private readonly X509Certificate2? _serverCertificate;
    private WebsocketClient? _client;
    private IDisposable? _subscription;
    private TaskCompletionSource<long>? _pushDone;
    private int _pushTarget;
    private int _pushCount;
    private long _pushChars;
    private bool _counting;

    public WebsocketClientClient(X509Certificate2? serverCertificate) => _serverCertificate = serverCertificate;

    public void ExpectPushed(int count)
    {
        _counting = true;
        _pushTarget = count;
        _pushDone = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public async Task ConnectAsync(Uri uri, CancellationToken cancellationToken)
    {
        // Its own socket factory unless TLS needs the certificate trusted, so ws:// runs use its defaults.
        _client = _serverCertificate is null ? new WebsocketClient(uri) : new WebsocketClient(uri, () => ClientCatalog.CreateClientWebSocket(_serverCertificate));
        _client.ReconnectTimeout = null;
        _client.ErrorReconnectTimeout = null;
        _client.IsReconnectionEnabled = false;
        _subscription = _client.MessageReceived.Subscribe(OnMessage);
        await _client.StartOrFail().WaitAsync(cancellationToken);
    }

    public async Task<long> ReceiveTextsAsync(int count, CancellationToken cancellationToken) =>
        await _pushDone!.Task.WaitAsync(cancellationToken);

    public async Task<long> SendTextsAsync(string text, int count, CancellationToken cancellationToken)
    {
        WebsocketClient client = _client!;
        for (int i = 0; i < count; i++)
        {
            await client.SendInstant(text);
        }

        await client.SendInstant("done");
        ResponseMessage reply = await _replies.Reader.ReadAsync(cancellationToken);
        return long.Parse(reply.Text!, CultureInfo.InvariantCulture);
    }

    public async ValueTask<int> EchoTextAsync(string text, CancellationToken cancellationToken)
    {
        ValueTask<int> echo = _echo.Arm(cancellationToken);
        await _client!.SendInstant(text);
        return await echo;
    }

    public async ValueTask<int> EchoBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        // Its awaitable binary send takes a byte[]; hand it the payload's own array, not a copy.
        byte[] array = MemoryMarshal.TryGetArray(payload, out ArraySegment<byte> segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : payload.ToArray();
        ValueTask<int> echo = _echo.Arm(cancellationToken);
        await _client!.SendInstant(array);
        return await echo;
    }

    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        if (_client is not null)
        {
            await _client.Stop(WebSocketCloseStatus.NormalClosure, string.Empty).WaitAsync(cancellationToken);
        }
    }

    public ValueTask DisposeAsync()
    {
        _echo.Dispose();
        _subscription?.Dispose();
        _client?.Dispose();
        return ValueTask.CompletedTask;
    }

    private void OnMessage(ResponseMessage message)
    {
        if (_counting)
        {
            _pushChars += message.Text!.Length;
            if (++_pushCount == _pushTarget)
            {
                _pushDone!.TrySetResult(_pushChars);
            }

            return;
        }

        if (!_echo.TrySet(message.Text?.Length ?? message.Binary?.Length ?? 0))
        {
            _replies.Writer.TryWrite(message);
        }
    }
}
