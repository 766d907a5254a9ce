using Duplex.Client;
using Microsoft.Extensions.Logging;

namespace Duplex.Samples;

/// <summary>
/// The subclass example: authenticates after every (re)connect, reacts to <c>auth_response</c>,
/// counts messages by type, and still lets registered handlers run by calling the base.
/// </summary>
internal sealed class AuthenticatingClient : WebSocketClient
{
    private readonly string _token;
    private readonly Dictionary<string, int> _counts = [];
    private int _authenticated;

    public AuthenticatingClient(string token, WebSocketClientOptions options)
        : base(options)
    {
        _token = token;
    }

    /// <summary>How many times the server confirmed authentication (once per connection).</summary>
    public int Authentications => Volatile.Read(ref _authenticated);

    /// <summary>Messages received, by their JSON <c>type</c>.</summary>
    public IReadOnlyDictionary<string, int> Counts
    {
        get
        {
            lock (_counts)
            {
                return new Dictionary<string, int>(_counts);
            }
        }
    }

    protected override async ValueTask OnConnectedAsync(WebSocketConnectedContext context, CancellationToken cancellationToken)
    {
        // Sent from the connect hook, this goes out before anything waiting in the outbox.
        await SendJsonAsync(new AuthRequest("auth", _token), SampleJsonContext.Default.AuthRequest, cancellationToken);
        Logger.LogInformation("Sent authentication (reconnect: {IsReconnect}).", context.IsReconnect);
        await base.OnConnectedAsync(context, cancellationToken);
    }

    protected override async ValueTask OnMessageReceivedAsync(WebSocketClientMessage message, CancellationToken cancellationToken)
    {
        string type = message.Json?.TryGetProperty("type", out var t) == true ? t.GetString() ?? "?" : "text";
        lock (_counts)
        {
            _counts[type] = _counts.GetValueOrDefault(type) + 1;
        }

        if (type == "auth_response" && message.Json!.Value.GetProperty("ok").GetBoolean())
        {
            Interlocked.Increment(ref _authenticated);
            Logger.LogInformation("Authenticated.");
        }

        await base.OnMessageReceivedAsync(message, cancellationToken);
    }
}
