using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using Duplex.Cli.Output;
using Duplex.Cli.Serve;
using Duplex.Client;

namespace Duplex.Cli.Demo;

/// <summary>
/// One run of <c>duplex demo</c>: starts the embedded server, runs the steps in order (each bounded
/// by a timeout, each checking its own outcome), prints what happens, and exits 0 only when every
/// step passed.
/// </summary>
internal sealed partial class DemoRun : IAsyncDisposable
{
    private static readonly TimeSpan s_stepTimeout = TimeSpan.FromSeconds(15);

    // The secrets the demo sends: they must reach the server intact and appear in nothing printed or logged.
    private const string ApiKey = "demo-api-key-4f1c9a";
    private const string TokenPrefix = "demo-token-";

    private readonly Terminal _terminal;
    private readonly DemoLog _log = new();
    private readonly Channel<WebSocketClientMessage> _messages = Channel.CreateUnbounded<WebSocketClientMessage>();
    private readonly Channel<WebSocketConnectedContext> _connects = Channel.CreateUnbounded<WebSocketConnectedContext>();
    private readonly Channel<WebSocketDisconnectedContext> _disconnects = Channel.CreateUnbounded<WebSocketDisconnectedContext>();
    private readonly Channel<RecordedClose> _serverCloses = Channel.CreateUnbounded<RecordedClose>();
    private readonly List<string> _tokensIssued = [];
    private readonly Dictionary<string, int> _handlerCalls = new(StringComparer.Ordinal);
    private LocalServer? _server;
    private LocalServer? _tlsServer;
    private WebSocketClient? _client;

    public DemoRun(Terminal terminal) => _terminal = terminal;

    private LocalServer Server => _server ?? throw new InvalidOperationException("The server is not started.");

    private WebSocketClient Client => _client ?? throw new StepFailedException("the client of the first step is not connected");

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        _server = await LocalServer.StartAsync(new LocalServerOptions(), log: null, cancellationToken);
        _server.Closed += close => _serverCloses.Writer.TryWrite(close);
        _terminal.Line($"[bold]duplex demo[/]: an embedded server listens on {Server.Url} (Kestrel, 127.0.0.1 only)");

        var steps = new (string Title, Func<CancellationToken, Task<string>> Run)[]
        {
            ("Custom headers in the opening handshake", HeadersAsync),
            ("Text and JSON messages", TextAndJsonAsync),
            ("Ping with a payload, and its round-trip time", PingAsync),
            ("The server drops the connection: reconnect with backoff, the outbox delivers", ReconnectAsync),
            ("A rejected handshake explains itself", RejectedAsync),
            ("A manager of named clients", ManagerAsync),
            ("TLS with a trusted self-signed certificate", TlsAsync),
            ("A clean close with code and reason", CloseAsync),
            ("Handlers and logs", HandlersAndLogsAsync),
        };

        int passed = 0;
        for (int i = 0; i < steps.Length; i++)
        {
            _terminal.Line("");
            _terminal.Line($"[bold yellow]step {i + 1}/{steps.Length}: {Terminal.Escape(steps[i].Title)}[/]");
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_stepTimeout);
            try
            {
                string outcome = await steps[i].Run(timeout.Token);
                passed++;
                _terminal.Line($"  [green]PASS[/] {Terminal.Escape(outcome)}");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                _terminal.ErrorLine("interrupted");
                return ExitCodes.Interrupted;
            }
            catch (Exception ex)
            {
                string why = ex switch
                {
                    StepFailedException => ex.Message,
                    OperationCanceledException => $"did not finish within {Input.Duration.Format(s_stepTimeout)}",
                    _ => $"{ex.GetType().Name}: {ex.Message}",
                };
                _terminal.Line($"  [red]FAIL[/] {Terminal.Escape(why)}");
            }
        }

        string elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
        _terminal.Line("");
        if (passed == steps.Length)
        {
            _terminal.Line($"[green]demo: all {steps.Length} steps passed in {elapsed} s[/]");
            return ExitCodes.Success;
        }

        _terminal.Line($"[red]demo: {steps.Length - passed} of {steps.Length} steps failed ({elapsed} s)[/]");
        return ExitCodes.Failure;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
        {
            await _client.DisposeAsync();
        }

        if (_tlsServer is not null)
        {
            await _tlsServer.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private static void Check(bool condition, string expectation)
    {
        if (!condition)
        {
            throw new StepFailedException(expectation);
        }
    }

    private void Show(string markup) => _terminal.Line("  " + markup);

    private void Counted(string handler)
    {
        lock (_handlerCalls)
        {
            _handlerCalls[handler] = _handlerCalls.GetValueOrDefault(handler) + 1;
        }
    }

    private int Calls(string handler)
    {
        lock (_handlerCalls)
        {
            return _handlerCalls.GetValueOrDefault(handler);
        }
    }

    private async Task<WebSocketClientMessage> NextMessageAsync(CancellationToken cancellationToken) =>
        await _messages.Reader.ReadAsync(cancellationToken);
}
