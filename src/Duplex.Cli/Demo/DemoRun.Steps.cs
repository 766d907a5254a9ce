using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Duplex.Cli.Connect;
using Duplex.Cli.Output;
using Duplex.Cli.Serve;
using Duplex.Client;
using Duplex.Handshake;
using Duplex.Manager;
using Spectre.Console;
using Spectre.Console.Json;

namespace Duplex.Cli.Demo;

internal sealed partial class DemoRun
{
    private static readonly Dictionary<string, string> s_staticHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        ["X-Api-Key"] = ApiKey,
        ["X-Tenant"] = "acme-corp",
        ["Accept-Language"] = "en-GB, fr;q=0.8",
        ["X-Client-Name"] = "duplex-demo/1.0",
    };

    private async Task<string> HeadersAsync(CancellationToken cancellationToken)
    {
        var options = new WebSocketClientOptions
        {
            Logger = _log,

            // Produced again before every reconnect: a rotating token stays fresh.
            HeadersFactory = _ =>
            {
                string token;
                lock (_tokensIssued)
                {
                    token = TokenPrefix + (_tokensIssued.Count + 1) + "-" + Guid.NewGuid().ToString("N")[..8];
                    _tokensIssued.Add(token);
                }

                return ValueTask.FromResult<IReadOnlyDictionary<string, string>>(new Dictionary<string, string> { ["Authorization"] = "Bearer " + token });
            },
            Reconnect = new WebSocketReconnectOptions { InitialDelay = TimeSpan.FromMilliseconds(400), MaxDelay = TimeSpan.FromSeconds(2), Jitter = 0.2 },
        };
        _client = new WebSocketClient(options);
        _client.OnConnected((context, _) =>
        {
            Counted("connected");
            _connects.Writer.TryWrite(context);
            return ValueTask.CompletedTask;
        });
        _client.OnMessage((message, _) =>
        {
            Counted("message");
            _messages.Writer.TryWrite(message);
            return ValueTask.CompletedTask;
        });
        _client.OnDisconnected((context, _) =>
        {
            Counted("disconnected");
            _disconnects.Writer.TryWrite(context);
            return ValueTask.CompletedTask;
        });
        _client.OnError((_, _) =>
        {
            Counted("error");
            return ValueTask.CompletedTask;
        });

        Uri uri = Server.UriFor("/headers");
        await _client.ConnectAsync(uri, s_staticHeaders, tls: null, cancellationToken);
        WebSocketConnectedContext connected = await _connects.Reader.ReadAsync(cancellationToken);
        Check(!connected.IsReconnect, "the first connect handler says it is a first connect");
        Show($"connected to {uri} (HTTP/{connected.Response.HttpVersion} {connected.Response.StatusCode}); state {_client.State}, IsOpen {_client.IsOpen}");
        Check(_client.State == WebSocketClientState.Open && _client.IsOpen, $"the client is Open, not {_client.State}");

        // What the server received, checked against what was sent (in memory, secrets included) ...
        RecordedHandshake handshake = Server.Handshakes.Last();
        foreach (KeyValuePair<string, string> sent in s_staticHeaders)
        {
            Check(handshake.Headers.TryGetValue(sent.Key, out string? seen) && seen == sent.Value, $"the server saw {sent.Key} as it was sent");
        }

        string firstToken;
        lock (_tokensIssued)
        {
            firstToken = _tokensIssued[^1];
        }

        Check(handshake.Headers.GetValueOrDefault("Authorization") == "Bearer " + firstToken, "the server saw the token the headers factory produced");

        // ... and what it replied on the wire, where its secrets are masked.
        WebSocketClientMessage reply = await NextMessageAsync(cancellationToken);
        Check(reply.Json is { } json && json.GetProperty("type").GetString() == "headers", "the server's first message lists the headers it received");
        JsonElement headers = reply.Json!.Value.GetProperty("headers");
        var table = new Table().AddColumn("header").AddColumn("as the server saw it");
        foreach (JsonProperty header in headers.EnumerateObject().Where(h => !h.Name.StartsWith("Sec-WebSocket", StringComparison.OrdinalIgnoreCase)))
        {
            table.AddRow(Terminal.Escape(header.Name), Terminal.Escape(header.Value.GetString() ?? ""));
        }

        _terminal.Render(new Padder(table, new Padding(2, 0, 0, 0)));
        Check(!reply.Text!.Contains(ApiKey, StringComparison.Ordinal) && !reply.Text.Contains(firstToken, StringComparison.Ordinal), "secrets are masked in the server's reply");
        Check(headers.GetProperty("X-Tenant").GetString() == "acme-corp", "the reply shows X-Tenant: acme-corp");
        return $"{s_staticHeaders.Count + 1} custom headers arrived intact (checked in the server); Authorization and X-Api-Key shown redacted";
    }

    private async Task<string> TextAndJsonAsync(CancellationToken cancellationToken)
    {
        const string text = "hello, duplex";
        await Client.SendTextAsync(text, cancellationToken);
        WebSocketClientMessage echo = await NextMessageAsync(cancellationToken);
        Show($"sent text {Quote(text)}, the server echoed {Quote(echo.Text ?? "(binary)")}");
        Check(echo.IsText && echo.Text == text && !echo.IsJson, "the text comes back as text, not JSON");

        var order = new DemoOrder("buy", "DPX", 3);
        await Client.SendJsonAsync(order, DemoJson.Default.DemoOrder, cancellationToken);
        WebSocketClientMessage jsonEcho = await NextMessageAsync(cancellationToken);
        Show($"sent {order} as JSON: {Terminal.Escape(jsonEcho.Text ?? "")}");
        Check(jsonEcho.Json is { } parsed && parsed.ValueKind == JsonValueKind.Object, "the JSON reply arrives parsed (message.Json)");
        JsonElement element = jsonEcho.Json!.Value;
        Show("received, parsed (message.Json):");
        if (_terminal.Styled)
        {
            _terminal.Render(new Padder(new JsonText(JsonSerializer.Serialize(element, new JsonSerializerOptions { WriteIndented = true })), new Padding(4, 0, 0, 0)));
        }
        else
        {
            foreach (JsonProperty property in element.EnumerateObject())
            {
                Show($"  {property.Name} = {property.Value.GetRawText()} ({property.Value.ValueKind})");
            }
        }

        DemoOrder? back = jsonEcho.Deserialize(DemoJson.Default.DemoOrder);
        Show($"message.Deserialize<DemoOrder>() = {Terminal.Escape(back?.ToString() ?? "null")}");
        Check(element.GetProperty("symbol").GetString() == "DPX" && element.GetProperty("quantity").GetInt32() == 3, "the parsed JSON has camelCase names (web defaults) and the values sent");
        Check(back == order, "the typed object read back equals the one sent");
        return "text echoed as text; the object went out as camelCase JSON and came back parsed and typed";
    }

    private async Task<string> PingAsync(CancellationToken cancellationToken)
    {
        byte[] payload = "are you there?"u8.ToArray();
        WebSocketPingResult result = await Client.PingAsync(payload, TimeSpan.FromSeconds(5), cancellationToken);
        Show($"Ping with payload {Quote(Encoding.UTF8.GetString(payload))}: success {result.Success}, round trip {Input.Duration.Format(result.RoundTripTime)}");
        Check(result.Success, "the server answered the Ping with its Pong");
        Check(result.RoundTripTime > TimeSpan.Zero && result.RoundTripTime < TimeSpan.FromSeconds(5), "the round-trip time is measured");
        Check(Client.LastRoundTripTime is not null, "LastRoundTripTime holds the latest round trip");
        return $"Pong matched to the Ping's payload, RTT {Input.Duration.Format(result.RoundTripTime)}; keepalive Pings run the same way every 20 s";
    }

    private async Task<string> ReconnectAsync(CancellationToken cancellationToken)
    {
        // New upgrades wait at the server until released, so the messages below certainly wait in the outbox.
        Server.HoldUpgrades();
        Task<bool>[] sends;
        try
        {
            int dropped = Server.DropAll();
            Show($"the server dropped {dropped} connection(s) without a closing handshake");
            Check(dropped == 1, "the server had the demo's connection to drop");
            WebSocketDisconnectedContext lost = await _disconnects.Reader.ReadAsync(cancellationToken);
            Show($"OnDisconnected: {Terminal.Escape(ConnectFailure.Describe(lost.CloseStatus, lost.CloseStatusDescription, lost.Exception))}; will reconnect: {lost.WillReconnect}, backoff delay {Input.Duration.Format(lost.ReconnectDelay ?? TimeSpan.Zero)} (400 ms ± 20 % jitter)");
            Check(lost.WillReconnect && lost.ReconnectDelay is { } delay && delay > TimeSpan.Zero, "the client decides to reconnect after a backoff delay");
            Check(!lost.ClosedByApplication, "the loss is not the application's doing");

            sends = new[] { "queued 1", "queued 2", "queued 3" }.Select(text => SendAndConfirmAsync(text, cancellationToken)).ToArray();
            await WaitUntilAsync(() => Client.OutboxCount == 3, cancellationToken);
            Show($"sent 3 messages while {Client.State} (reconnecting: {Client.IsReconnecting}): {Client.OutboxCount} wait in the outbox");
        }
        finally
        {
            Server.ReleaseUpgrades();
        }

        WebSocketConnectedContext back = await _connects.Reader.ReadAsync(cancellationToken);
        Show($"OnConnected: reconnect {back.IsReconnect}, attempt {back.Attempt}");
        Check(back.IsReconnect, "the connect handler knows it is a reconnect");
        foreach (Task<bool> send in sends)
        {
            Check(await send, "every queued send completes once the outbox drained");
        }

        WebSocketClientMessage headers = await NextMessageAsync(cancellationToken);
        Check(headers.Json is { } json && json.GetProperty("type").GetString() == "headers", "the new connection starts with the server's headers message");
        string[] tokens;
        lock (_tokensIssued)
        {
            tokens = [.. _tokensIssued];
        }

        Check(tokens.Length >= 2 && Server.Handshakes.Last().Headers.GetValueOrDefault("Authorization") == "Bearer " + tokens[^1] && tokens[^1] != tokens[0], "the reconnect sent a freshly produced token");
        Show($"the reconnect carried a new token from the headers factory ({Terminal.Escape(SecretRedaction.Mask(tokens[^1]))}, not the first one)");

        var echoes = new List<string>();
        for (int i = 0; i < 3; i++)
        {
            echoes.Add((await NextMessageAsync(cancellationToken)).Text ?? "");
        }

        Show($"echoes after the reconnect, in order: {string.Join(", ", echoes.Select(Quote))}");
        Check(echoes.SequenceEqual(["queued 1", "queued 2", "queued 3"]), "the outbox delivered the three messages in order");
        Check(Client.OutboxCount == 0 && Client.IsOpen, "the outbox is empty and the client open again");
        return "lost → reconnected with backoff; the 3 messages sent meanwhile were delivered in order";
    }

    private async Task<bool> SendAndConfirmAsync(string text, CancellationToken cancellationToken)
    {
        await Client.SendTextAsync(text, cancellationToken);
        return true;
    }

    private async Task<string> RejectedAsync(CancellationToken cancellationToken)
    {
        await using var client = new WebSocketClient(new WebSocketClientOptions { Logger = _log });
        Uri uri = Server.UriFor("/reject/401");
        try
        {
            await client.ConnectAsync(uri, new Dictionary<string, string> { ["Authorization"] = "Bearer expired-" + ApiKey }, tls: null, cancellationToken);
        }
        catch (WebSocketHandshakeRejectedException rejected)
        {
            ConnectFailure failure = ConnectFailure.From(rejected)!;
            Show($"connect to {uri} threw {nameof(WebSocketHandshakeRejectedException)}: {Terminal.Escape(failure.Summary)}");
            foreach (string detail in failure.Details)
            {
                Show(Terminal.Escape(detail));
            }

            Check(rejected.StatusCode == 401, $"the status is 401, not {rejected.StatusCode}");
            Check(rejected.Headers.ContainsKey("WWW-Authenticate"), "the response headers are kept (WWW-Authenticate)");
            Check(rejected.Body.Contains("rejected by duplex serve", StringComparison.Ordinal), "the body is kept");
            Check(client.State != WebSocketClientState.Open, "the client is not open");
            return "status 401, its headers and body are in the exception; 401/403 are not retried blindly";
        }

        throw new StepFailedException("the server's 401 did not surface as a rejected handshake");
    }

    private async Task<string> ManagerAsync(CancellationToken cancellationToken)
    {
        await using var manager = new WebSocketClientManager(() => new WebSocketClientOptions { Logger = _log });
        string[] names = ["prices", "orders", "news"];
        foreach (string name in names)
        {
            manager.CreateClient(name, Server.UriFor("/echo"), new Dictionary<string, string> { ["X-Client-Name"] = name });
        }

        manager.CreateClient("audit", Server.UriFor("/reject/403"));
        IReadOnlyDictionary<string, Exception?> outcomes = await manager.ConnectAllAsync(cancellationToken);
        await manager["orders"].SendTextAsync("order book please", cancellationToken);
        IReadOnlyDictionary<string, WebSocketClientState> states = manager.ListClients();
        var table = new Table().AddColumn("client").AddColumn("state").AddColumn("connect outcome");
        foreach (KeyValuePair<string, WebSocketClientState> entry in states.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            Exception? error = outcomes.GetValueOrDefault(entry.Key);
            table.AddRow(entry.Key, entry.Value.ToString(), Terminal.Escape(error is null ? "connected" : ConnectFailure.From(error)?.Summary ?? error.Message));
        }

        _terminal.Render(new Padder(table, new Padding(2, 0, 0, 0)));
        foreach (string name in names)
        {
            Check(states[name] == WebSocketClientState.Open && outcomes[name] is null, $"{name} is Open");
        }

        Check(outcomes["audit"] is WebSocketHandshakeRejectedException { StatusCode: 403 } && states["audit"] != WebSocketClientState.Open, "audit failed with 403 without stopping the others");
        Check(Server.Handshakes.Count(h => h.Path == "/echo") >= 3, "the server saw the three connections");

        await manager.CloseAllAsync(cancellationToken);
        IReadOnlyDictionary<string, WebSocketClientState> closed = manager.ListClients();
        Show($"after CloseAllAsync: {string.Join(", ", closed.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key} {s.Value}"))}");
        Check(closed.Values.All(s => s == WebSocketClientState.Closed), "every client is Closed after CloseAllAsync");
        return "3 of 4 named clients connected, the 4th's 403 reported; ListClients showed each state; CloseAllAsync closed them all";
    }

    private async Task<string> TlsAsync(CancellationToken cancellationToken)
    {
        _tlsServer = await LocalServer.StartAsync(new LocalServerOptions { Tls = true }, log: null, cancellationToken);
        X509Certificate2 certificate = _tlsServer.Certificate!;
        Show($"a second server listens on {_tlsServer.Url}, certificate sha256 {SelfSignedCertificate.Fingerprint(certificate)}");
        Uri uri = _tlsServer.UriFor("/echo");

        using X509Certificate2 trusted = X509CertificateLoader.LoadCertificate(certificate.Export(X509ContentType.Cert));
        var tls = new WebSocketTlsOptions { TrustedRootCertificates = [trusted] };
        await using (var client = new WebSocketClient(new WebSocketClientOptions { Logger = _log }))
        {
            var echoed = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            client.OnMessage((message, _) =>
            {
                echoed.TrySetResult(message.Text ?? "");
                return ValueTask.CompletedTask;
            });
            await client.ConnectAsync(uri, headers: null, tls, cancellationToken);
            await client.SendTextAsync("over TLS", cancellationToken);
            string echo = await echoed.Task.WaitAsync(cancellationToken);
            Show($"with the certificate as trusted root: connected, echo {Quote(echo)}");
            Check(echo == "over TLS", "the message came back over TLS");
            await client.CloseAsync(cancellationToken);
        }

        await using var untrusting = new WebSocketClient(new WebSocketClientOptions { Logger = _log });
        try
        {
            await untrusting.ConnectAsync(uri, cancellationToken);
        }
        catch (WebSocketConnectException ex) when (ex.Error == WebSocketConnectError.Tls)
        {
            Show($"without trusting it: {nameof(WebSocketConnectException)}, Error {ex.Error}, TlsFailure {ex.TlsFailure}");
            return "wss:// with validation on: a private root trusted explicitly works, an unknown certificate is refused";
        }

        throw new StepFailedException("a client that does not trust the certificate connected anyway");
    }

    private async Task<string> CloseAsync(CancellationToken cancellationToken)
    {
        const string reason = "demo finished";
        await Client.CloseAsync(WebSocketCloseStatus.NormalClosure, reason, cancellationToken);
        Show($"CloseAsync(1000, {Quote(reason)}): client state {Client.State}, IsOpen {Client.IsOpen}");
        Check(Client.State == WebSocketClientState.Closed, $"the client is Closed, not {Client.State}");

        WebSocketDisconnectedContext closed = await _disconnects.Reader.ReadAsync(cancellationToken);
        Check(closed.ClosedByApplication && !closed.WillReconnect, "OnDisconnected says the application closed and no reconnect follows");

        int connection = Server.Handshakes.Last(h => h.Path == "/headers").Connection;
        RecordedClose seen;
        do
        {
            seen = await _serverCloses.Reader.ReadAsync(cancellationToken);
        }
        while (seen.Connection != connection);

        Show($"the server received close code {(int?)seen.Status} with reason {Quote(seen.Description ?? "")}");
        Check(seen.Status == WebSocketCloseStatus.NormalClosure && seen.Description == reason, "the server saw 1000 and the reason");
        return "closing handshake completed: 1000 \"demo finished\" on both sides, no reconnect";
    }

    private Task<string> HandlersAndLogsAsync(CancellationToken cancellationToken)
    {
        Show($"the first client's handlers ran: OnConnected {Calls("connected")}, OnMessage {Calls("message")}, OnDisconnected {Calls("disconnected")}, OnError {Calls("error")}");
        Check(Calls("connected") == 2 && Calls("disconnected") == 2 && Calls("message") == 7, "connect 2 (first + reconnect), disconnect 2 (drop + close), 7 messages");

        string[] entries = [.. _log.Entries];
        Show($"the library logged {entries.Length} entries through ILogger; the last few:");
        foreach (string entry in entries.TakeLast(4))
        {
            Show("  " + Terminal.Escape(entry.Length > 160 ? entry[..160] + "…" : entry));
        }

        string[] tokens;
        lock (_tokensIssued)
        {
            tokens = [.. _tokensIssued];
        }

        Check(entries.Length > 0, "the library logged its connects and closes");
        Check(!entries.Any(e => e.Contains(ApiKey, StringComparison.Ordinal) || tokens.Any(t => e.Contains(t, StringComparison.Ordinal))), "no secret appears in any log entry");
        return Task.FromResult("every handler ran as often as the steps imply; no token or key in the logs");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        while (!condition())
        {
            await Task.Delay(10, cancellationToken);
        }
    }

    private static string Quote(string text) => "\"" + Terminal.Escape(text) + "\"";
}
