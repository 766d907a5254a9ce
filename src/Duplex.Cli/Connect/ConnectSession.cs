using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Duplex.Cli.Output;
using Duplex.Client;
using Duplex.Connection;
using Microsoft.Extensions.Logging;

namespace Duplex.Cli.Connect;

/// <summary>
/// One run of <c>duplex connect</c>: connects, sends what is typed or piped in, prints what arrives,
/// shows every loss and reconnect with its cause, and ends with an exit code from <see cref="ExitCodes"/>.
/// </summary>
/// <remarks>
/// Interactive (a terminal, or <c>--interactive</c>): lines are sent as they are typed, until
/// <c>/quit</c>, <c>/close</c> or the end of input. Piped: it waits until connected, sends every
/// line, then waits <c>--wait</c>, until <c>--count</c> messages arrived, or until the server closes.
/// </remarks>
internal sealed class ConnectSession
{
    private static readonly TimeSpan s_closeTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_pingTimeout = TimeSpan.FromSeconds(10);

    private readonly ConnectSettings _settings;
    private readonly Terminal _terminal;
    private readonly MessagePrinter _printer;
    private readonly JsonRpcRequests _jsonRpc = new();
    private readonly TaskCompletionSource<int> _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _received;
    private bool _inputRefused;

    public ConnectSession(ConnectSettings settings, Terminal terminal)
    {
        _settings = settings;
        _terminal = terminal;
        _printer = new MessagePrinter(terminal, settings);
    }

    public async Task<int> RunAsync(TextReader input, bool interactive, CancellationToken cancellationToken)
    {
        WebSocketClientOptions options;
        try
        {
            options = CreateOptions();
        }
        catch (ArgumentException ex)
        {
            _terminal.ErrorLine($"[red]duplex connect:[/] {Terminal.Escape(ex.Message)}");
            return ExitCodes.Usage;
        }

        using ILoggerFactory? logging = _settings.Verbose
            ? LoggerFactory.Create(builder => builder
                .SetMinimumLevel(LogLevel.Debug)
                .AddSimpleConsole(console => console.SingleLine = true)
                .AddConsole(console => console.LogToStandardErrorThreshold = LogLevel.Trace))
            : null;
        if (logging is not null)
        {
            options.Logger = logging.CreateLogger("Duplex");
        }

        await using var client = new WebSocketClient(options);
        Register(client);
        using CancellationTokenRegistration interrupt = cancellationToken.Register(() => _finished.TrySetResult(ExitCodes.Interrupted));

        string shownUrl = SecretRedaction.Uri(_settings.Url);
        _printer.Status($"connecting to {Terminal.Escape(shownUrl)}");
        if (_settings.Insecure)
        {
            _printer.Status("[yellow]--insecure: the server's certificate is not checked[/]");
        }

        try
        {
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (KeyValuePair<string, string> header in _settings.Headers)
            {
                headers[header.Key] = headers.TryGetValue(header.Key, out string? earlier) ? earlier + ", " + header.Value : header.Value;
            }

            await client.ConnectAsync(_settings.Url, headers, tls: null, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            _printer.Status("interrupted");
            return ExitCodes.Interrupted;
        }
        catch (Exception ex) when (ConnectFailure.From(ex) is { } failure)
        {
            Report(failure);
            return failure.ExitCode;
        }

        if (interactive)
        {
            _printer.Status(Terminal.Escape("type a line to send it; /ping [payload], /close [code] [reason], /binary <hex>, /quit (//text sends /text)"));
        }

        Task<bool> reading = Task.Run(() => ReadInputAsync(client, input, cancellationToken), CancellationToken.None);
        Task first = await Task.WhenAny(reading, _finished.Task);
        if (first == reading && !_finished.Task.IsCompleted)
        {
            bool inputEnded = await reading;
            if (inputEnded && !interactive)
            {
                await WaitAfterInputAsync();
            }

            _finished.TrySetResult(_inputRefused ? ExitCodes.Failure : ExitCodes.Success);
        }

        int exitCode = await _finished.Task;
        await CloseAsync(client, WebSocketCloseStatus.NormalClosure, null);
        if (exitCode == ExitCodes.Success && _inputRefused)
        {
            exitCode = ExitCodes.Failure;
        }

        return exitCode;
    }

    private WebSocketClientOptions CreateOptions()
    {
        var connection = new WebSocketConnectionOptions();
        if (_settings.PingInterval is { } interval)
        {
            connection.KeepAliveInterval = interval;
        }

        foreach (string subProtocol in _settings.SubProtocols)
        {
            connection.Handshake.SubProtocols.Add(subProtocol);
        }

        if (_settings.Proxy is { } proxy)
        {
            connection.Handshake.Proxy = new WebProxy(proxy);
        }

        connection.Handshake.Tls = ClientTls.Create(_settings);
        return new WebSocketClientOptions
        {
            Connection = connection,
            Reconnect = new WebSocketReconnectOptions
            {
                Enabled = !_settings.NoReconnect,
                InitialDelay = TimeSpan.FromSeconds(1),
                MaxDelay = TimeSpan.FromSeconds(10),

                // A server that closes with 1000 is done with us: the session ends instead of reconnecting.
                ShouldReconnect = context => context.DefaultDecision && context.CloseStatus != WebSocketCloseStatus.NormalClosure,
            },
            WriteUnobservedHandlerErrors = false,
        };
    }

    private void Register(WebSocketClient client)
    {
        client.OnConnected((context, _) =>
        {
            string protocol = context.Response.SubProtocol is { } subProtocol ? $", subprotocol {subProtocol}" : "";
            string how = $"HTTP/{context.Response.HttpVersion} {context.Response.StatusCode}{protocol}";
            _printer.Status(context.IsReconnect
                ? $"[green]reconnected[/] (attempt {context.Attempt}, {how})"
                : $"[green]connected[/] to {Terminal.Escape(SecretRedaction.Uri(context.Uri))} ({how})");
            return ValueTask.CompletedTask;
        });
        client.OnMessage((message, _) =>
        {
            int received = Interlocked.Increment(ref _received);
            if (_settings.Count is { } count && received > count)
            {
                return ValueTask.CompletedTask;
            }

            _printer.Received(message);
            if (received == _settings.Count)
            {
                _finished.TrySetResult(ExitCodes.Success);
            }

            return ValueTask.CompletedTask;
        });
        client.OnDisconnected((context, _) =>
        {
            if (context.ClosedByApplication)
            {
                return ValueTask.CompletedTask;
            }

            string cause = ConnectFailure.Describe(context.CloseStatus, context.CloseStatusDescription, context.Exception);
            _printer.Status(context.WillReconnect
                ? $"[yellow]connection lost[/]: {Terminal.Escape(cause)}; reconnecting in {Input.Duration.Format(context.ReconnectDelay ?? TimeSpan.Zero)}"
                : $"[yellow]connection ended[/]: {Terminal.Escape(cause)}");
            return ValueTask.CompletedTask;
        });
        client.OnError((error, _) =>
        {
            _printer.Status($"[red]error[/]: {Terminal.Escape(ConnectFailure.From(error)?.Summary ?? error.Message)}");
            return ValueTask.CompletedTask;
        });
        client.OnGaveUp((context, _) =>
        {
            if (context.CloseStatus == WebSocketCloseStatus.NormalClosure)
            {
                _printer.Status("the server closed the connection normally (1000)");
                _finished.TrySetResult(ExitCodes.Success);
                return ValueTask.CompletedTask;
            }

            ConnectFailure? failure = context.Exception is null ? null : ConnectFailure.From(context.Exception);
            _printer.Status($"[red]not reconnecting[/]: {Terminal.Escape(context.Reason)}");
            if (failure is not null && failure.ExitCode is ExitCodes.HandshakeRejected or ExitCodes.Tls or ExitCodes.Network)
            {
                Report(failure);
                _finished.TrySetResult(failure.ExitCode);
            }
            else
            {
                _finished.TrySetResult(ExitCodes.ConnectionLost);
            }

            return ValueTask.CompletedTask;
        });
    }

    /// <summary>Sends every input line; true when the input ended, false when a command ended the session.</summary>
    private async Task<bool> ReadInputAsync(WebSocketClient client, TextReader input, CancellationToken cancellationToken)
    {
        while (!_finished.Task.IsCompleted)
        {
            string? line = await input.ReadLineAsync(cancellationToken);
            if (line is null)
            {
                return true;
            }

            if (line.Length == 0 || _finished.Task.IsCompleted)
            {
                continue;
            }

            try
            {
                if (line.StartsWith("//", StringComparison.Ordinal))
                {
                    await SendLineAsync(client, line[1..], cancellationToken);
                }
                else if (line.StartsWith('/'))
                {
                    if (!await RunCommandAsync(client, line, cancellationToken))
                    {
                        return false;
                    }
                }
                else
                {
                    await SendLineAsync(client, line, cancellationToken);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return false;
            }
            catch (Exception ex) when (ex is WebSocketClosedException or WebSocketMessageDroppedException or WebSocketOutboxFullException)
            {
                _printer.Status($"[red]not sent[/]: {Terminal.Escape(ex.Message)}");
                if (ex is WebSocketClosedException)
                {
                    return false;
                }
            }
        }

        return false;
    }

    private async Task SendLineAsync(WebSocketClient client, string line, CancellationToken cancellationToken)
    {
        if (_settings.Binary is { } format)
        {
            if (!BinaryText.TryDecode(line, format, out byte[] bytes))
            {
                Refuse($"not {(format == BinaryFormat.Hex ? "hex" : "base64")}: {line}");
                return;
            }

            _printer.SentBinary(bytes);
            await client.SendBinaryAsync(bytes, cancellationToken);
            return;
        }

        string text = line;
        if (_settings.JsonRpc)
        {
            if (!_jsonRpc.TryWrap(line, out text, out string? problem))
            {
                Refuse($"{problem}: {line}");
                return;
            }
        }

        _printer.Sent(text);
        await client.SendTextAsync(text, cancellationToken);
    }

    /// <summary>Runs a slash command; false when it ended the session.</summary>
    private async Task<bool> RunCommandAsync(WebSocketClient client, string line, CancellationToken cancellationToken)
    {
        string[] parts = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        switch (parts[0].ToLowerInvariant())
        {
            case "/ping":
                string payload = line.Length > 5 ? line[5..].Trim() : "";
                try
                {
                    WebSocketPingResult result = await client.PingAsync(Encoding.UTF8.GetBytes(payload), s_pingTimeout, cancellationToken);
                    _printer.Reply(result.Success
                        ? $"pong: rtt {Input.Duration.Format(result.RoundTripTime)}{(payload.Length > 0 ? $" (payload {Terminal.Escape(payload)})" : "")}"
                        : $"[red]ping: no pong within {Input.Duration.Format(s_pingTimeout)}[/]");
                }
                catch (Exception ex) when (ex is WebSocketClosedException or InvalidOperationException or ArgumentException)
                {
                    _printer.Reply($"[red]ping failed[/]: {Terminal.Escape(ex.Message)}");
                }

                return true;
            case "/binary":
                string hex = line.Length > 7 ? line[7..] : "";
                if (!BinaryText.TryDecode(hex, BinaryFormat.Hex, out byte[] bytes))
                {
                    Refuse($"/binary needs hex digits: {line}");
                    return true;
                }

                _printer.SentBinary(bytes);
                await client.SendBinaryAsync(bytes, cancellationToken);
                return true;
            case "/close":
                var status = WebSocketCloseStatus.NormalClosure;
                if (parts.Length > 1)
                {
                    if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int code) || code is not (1000 or (>= 3000 and <= 4999) or 1001 or 1002 or 1003 or 1007 or 1008 or 1009 or 1010 or 1011))
                    {
                        Refuse($"/close needs a close code a client may send (1000-1003, 1007-1011, 3000-4999): {line}");
                        return true;
                    }

                    status = (WebSocketCloseStatus)code;
                }

                string? reason = parts.Length > 2 ? parts[2] : null;
                await CloseAsync(client, status, reason);
                _finished.TrySetResult(ExitCodes.Success);
                return false;
            case "/quit":
            case "/exit":
                await CloseAsync(client, WebSocketCloseStatus.NormalClosure, null);
                _finished.TrySetResult(ExitCodes.Success);
                return false;
            case "/help":
                _printer.Reply(Terminal.Escape("/ping [payload]  /close [code] [reason]  /binary <hex>  /quit  (//text sends /text)"));
                return true;
            default:
                Refuse($"unknown command {parts[0]} (try /help; //text sends /text)");
                return true;
        }
    }

    private async Task WaitAfterInputAsync()
    {
        TimeSpan wait = _settings.Wait;
        if (_settings.Count is { } count && Volatile.Read(ref _received) >= count)
        {
            return;
        }

        if (wait != Timeout.InfiniteTimeSpan)
        {
            await Task.WhenAny(_finished.Task, Task.Delay(wait));
        }
        else
        {
            await _finished.Task;
        }

        if (!_finished.Task.IsCompleted && _settings.Count is { } expected)
        {
            _printer.Status($"[red]received {Volatile.Read(ref _received)} of {expected} messages within --wait {Input.Duration.Format(wait)}[/]");
            _finished.TrySetResult(ExitCodes.Failure);
        }
    }

    private async Task CloseAsync(WebSocketClient client, WebSocketCloseStatus status, string? reason)
    {
        if (client.State is WebSocketClientState.Closed)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(s_closeTimeout);
        try
        {
            await client.CloseAsync(status, reason, timeout.Token);
            _printer.Status($"closed with {(int)status}{(reason is null ? "" : " " + Terminal.Escape(reason))}");
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketClosedException)
        {
            _printer.Status($"close did not complete: {Terminal.Escape(ex.Message)}");
        }
    }

    private void Refuse(string problem)
    {
        _inputRefused = true;
        _printer.Status($"[red]not sent[/]: {Terminal.Escape(problem)}");
    }

    private void Report(ConnectFailure failure)
    {
        _printer.Status($"[red]{Terminal.Escape(failure.Summary)}[/]");
        foreach (string detail in failure.Details)
        {
            _printer.Status(Terminal.Escape(detail));
        }
    }
}
