using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Duplex.Client;
using Duplex.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;

namespace Duplex.Tests.Client;

/// <summary>The client against in-process Kestrel: headers, messages, handlers, JSON, ping, logging.</summary>
public sealed class WebSocketClientTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));
    private KestrelWebSocketHost _host = null!;
    private int _dropOnce;

    public async Task InitializeAsync()
    {
        _host = new KestrelWebSocketHost();
        _host.Map("/drop-once", DropOnceAsync);
        await _host.StartAsync(cancellationToken: _timeout.Token);
    }

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _timeout.Dispose();
    }

    [Fact]
    public async Task Headers_StaticAndFromFactory_ArriveOnEveryConnect_FactoryCalledAgainOnReconnect()
    {
        int calls = 0;
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            o.Connection.Handshake.Headers["X-Client-Info"] = "duplex-tests";
            o.HeadersFactory = _ => ValueTask.FromResult<IReadOnlyDictionary<string, string>>(
                new Dictionary<string, string> { ["Authorization"] = $"Bearer rotating-{Interlocked.Increment(ref calls)}" });
        });
        await using var client = new WebSocketClient(options);
        var recorder = new ClientRecorder(client);
        var headers = new Dictionary<string, string> { ["X-Tenant-Id"] = "acme", ["Accept-Language"] = "de" };

        await client.ConnectAsync(_host.GetUri("/drop-once"), headers, cancellationToken: _timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => recorder.Connected.Count == 2, "the client reconnected after the server dropped it");

        RecordedRequest[] upgrades = _host.Requests.Where(r => r.Path == "/drop-once").ToArray();
        Assert.Equal(2, upgrades.Length);
        Assert.Equal("Bearer rotating-1", upgrades[0].Headers["Authorization"]);
        Assert.Equal("Bearer rotating-2", upgrades[1].Headers["Authorization"]);
        Assert.All(upgrades, r =>
        {
            Assert.Equal("duplex-tests", r.Headers["X-Client-Info"]);
            Assert.Equal("acme", r.Headers["X-Tenant-Id"]);
            Assert.Equal("de", r.Headers["Accept-Language"]);
        });
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task CreateConnectedAsync_OneCall_ReturnsOpenClientThatEchoes()
    {
        await using WebSocketClient client = await WebSocketClient.CreateConnectedAsync(
            _host.GetUri("/echo"), new Dictionary<string, string> { ["X-Api-Key"] = "k" }, ClientTestKit.FastOptions(), _timeout.Token);
        Assert.True(client.IsOpen);
        var reader = client.ReadAllAsync(_timeout.Token).GetAsyncEnumerator(_timeout.Token);
        ValueTask<bool> next = reader.MoveNextAsync();
        await client.SendTextAsync("hello", _timeout.Token);
        Assert.True(await next);
        Assert.Equal("hello", reader.Current.Text);
        await reader.DisposeAsync();
    }

    [Fact]
    public async Task ConnectAsync_Rejected401_ThrowsWithStatusHeadersAndBody_AndStaysClosed()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        WebSocketHandshakeRejectedException rejected = await Assert.ThrowsAsync<WebSocketHandshakeRejectedException>(
            () => client.ConnectAsync(_host.GetUri("/reject/401"), cancellationToken: _timeout.Token));
        Assert.Equal(401, rejected.StatusCode);
        Assert.Equal("test", rejected.Headers[KestrelWebSocketHost.RejectReasonHeader].Single());
        Assert.Contains(KestrelWebSocketHost.RejectBody, rejected.Body, StringComparison.Ordinal);
        Assert.Equal(WebSocketClientState.Closed, client.State);
        Assert.False(client.IsReconnecting);
    }

    [Fact]
    public async Task ConnectAsync_NothingListening_ThrowsConnectionRefused()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        WebSocketConnectException error = await Assert.ThrowsAsync<WebSocketConnectException>(
            () => client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), cancellationToken: _timeout.Token));
        Assert.Equal(WebSocketConnectError.ConnectionRefused, error.Error);
    }

    [Fact]
    public async Task Handlers_ThrowingHandler_IsReportedAndOthersAndClientCarryOn()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var errors = new ConcurrentQueue<Exception>();
        var received = new ConcurrentQueue<string>();
        client.OnMessage((_, _) => throw new InvalidOperationException("handler bug"));
        client.OnMessage((m, _) => { received.Enqueue(m.Text!); return ValueTask.CompletedTask; });
        client.OnError((e, _) => { errors.Enqueue(e); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);

        await client.SendTextAsync("one", _timeout.Token);
        await client.SendTextAsync("two", _timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => received.Count == 2, "both messages reach the second handler");
        Assert.Equal(["one", "two"], received);
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Equal("handler bug", e.Message));
        Assert.True(client.IsOpen);
    }

    [Fact]
    public async Task Handlers_MixOfSynchronousAsynchronousAndFailingOnes_RunInOrderForEveryMessage()
    {
        // Handlers that complete at once take the pump's fast path; one that goes asynchronous or fails after an
        // await moves the rest of that message to the slow path. Order and isolation hold on both.
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var calls = new ConcurrentQueue<string>();
        var errors = new ConcurrentQueue<Exception>();
        client.OnMessage((m, _) => { calls.Enqueue($"sync:{m.Text}"); return ValueTask.CompletedTask; });
        client.OnMessage(async (m, ct) =>
        {
            await Task.Yield();
            calls.Enqueue($"async:{m.Text}");
        });
        client.OnMessage(async (m, ct) =>
        {
            await Task.Yield();
            throw new InvalidOperationException($"late failure {m.Text}");
        });
        client.OnMessage((m, _) => { calls.Enqueue($"last:{m.Text}"); return ValueTask.CompletedTask; });
        client.OnError((e, _) => { errors.Enqueue(e); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);

        await client.SendTextAsync("a", _timeout.Token);
        await client.SendTextAsync("b", _timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => calls.Count == 6 && errors.Count == 2, "every handler ran for both messages");
        Assert.Equal(["sync:a", "async:a", "last:a", "sync:b", "async:b", "last:b"], calls);
        Assert.Equal(["late failure a", "late failure b"], errors.Select(e => e.Message));
        Assert.True(client.IsOpen);
    }

    [Fact]
    public async Task Json_IsParsedOnceAndSharedByTheHandlersOfOneMessage()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var seen = new ConcurrentQueue<(int Length, string Raw)>();
        for (int i = 0; i < 2; i++)
        {
            client.OnMessage((m, _) =>
            {
                JsonElement json = m.Json!.Value;
                seen.Enqueue((json.GetArrayLength(), json.GetRawText()));
                return ValueTask.CompletedTask;
            });
        }

        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);
        await client.SendTextAsync("[1,2]", _timeout.Token);
        await client.SendTextAsync("[1,2,3]", _timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => seen.Count == 4, "both handlers saw both messages");
        Assert.Equal([2, 2, 3, 3], seen.Select(s => s.Length));
    }

    [Fact]
    public void Json_OfAnOlderMessageReadAfterNewerOnes_IsItsOwn()
    {
        // The parse is shared through one cache per client, keyed by message number: a message kept and read
        // later must still give its own JSON, and two copies of one message share one parse.
        var cache = new WebSocketClientMessage.JsonCache();
        var first = new WebSocketClientMessage(WebSocketMessageType.Text, "[1]", default, cache, 1);
        var second = new WebSocketClientMessage(WebSocketMessageType.Text, "[1,2]", default, cache, 2);

        Assert.Equal(2, second.Json!.Value.GetArrayLength());
        Assert.Equal(1, first.Json!.Value.GetArrayLength());
        Assert.Equal(2, second.Json!.Value.GetArrayLength());

        WebSocketClientMessage copy = first;
        Assert.True(cache.TryGet(2, out _) || cache.TryGet(1, out _));
        Assert.Equal(1, copy.Json!.Value.GetArrayLength());
        Assert.True(cache.TryGet(1, out JsonElement? cached));
        Assert.Equal("[1]", cached!.Value.GetRawText());
        Assert.Equal(first, copy);
        Assert.NotEqual(first, second);
        Assert.Null(new WebSocketClientMessage(WebSocketMessageType.Binary, null, new byte[] { 1 }, cache, 3).Json);
    }

    [Fact]
    public async Task Handlers_RegistrationDisposed_StopsReceiving()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var first = new ConcurrentQueue<string>();
        var second = new ConcurrentQueue<string>();
        IDisposable registration = client.OnMessage((m, _) => { first.Enqueue(m.Text!); return ValueTask.CompletedTask; });
        client.OnMessage((m, _) => { second.Enqueue(m.Text!); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);
        await client.SendTextAsync("a", _timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => second.Count == 1, "the first message is handled");
        registration.Dispose();
        await client.SendTextAsync("b", _timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => second.Count == 2, "the second message is handled");
        Assert.Equal(["a"], first);
    }

    [Fact]
    public async Task SlowHandler_DoesNotStopPongs_KeepaliveSurvives()
    {
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            o.Connection.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.Connection.KeepAliveTimeout = TimeSpan.FromSeconds(2); // a late Pong on a loaded machine is not a dead peer
        });
        await using var client = new WebSocketClient(options);
        var recorder = new ClientRecorder(client);
        using var release = new SemaphoreSlim(0);
        var rttsDuringHandler = new ConcurrentQueue<TimeSpan?>();
        client.OnMessage(async (m, ct) =>
        {
            if (m.Text == "slow")
            {
                // The handler blocks far longer than the keepalive timeout.
                await release.WaitAsync(ct);
            }
        });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);
        await client.SendTextAsync("slow", _timeout.Token);

        // While the handler is stuck, keepalive Pings keep being answered: round trips keep being measured.
        TimeSpan? before = null;
        await ClientTestKit.WaitUntilAsync(() => (before = client.LastRoundTripTime) is not null, "a keepalive round trip");
        int measured = 0;
        TimeSpan? last = before;
        long blockedSince = System.Diagnostics.Stopwatch.GetTimestamp();
        await ClientTestKit.WaitUntilAsync(
            () =>
            {
                TimeSpan? now = client.LastRoundTripTime;
                if (now != last)
                {
                    measured++;
                    last = now;
                }

                // Blocked for longer than the keepalive timeout, with Pongs still flowing.
                return measured >= 3 && System.Diagnostics.Stopwatch.GetElapsedTime(blockedSince) > TimeSpan.FromSeconds(2.5);
            },
            "keepalive round trips for longer than the keepalive timeout while the handler is blocked");
        release.Release();
        await client.SendTextAsync("after", _timeout.Token);
        await ClientTestKit.WaitUntilAsync(() => recorder.Messages.Count == 2, "both messages handled");
        Assert.True(client.IsOpen);
        Assert.Empty(recorder.Disconnected);
    }

    [Fact]
    public async Task ReadAllAsync_AlongsideHandlers_BothSeeEveryMessageInOrder()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var handled = new ConcurrentQueue<string>();
        client.OnMessage((m, _) => { handled.Enqueue(m.Text!); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);
        var pulled = new List<string>();

        // The reader is registered by the first MoveNextAsync; only later messages reach it.
        IAsyncEnumerator<WebSocketClientMessage> reader = client.ReadAllAsync(_timeout.Token).GetAsyncEnumerator(_timeout.Token);
        ValueTask<bool> firstMove = reader.MoveNextAsync();
        for (int i = 0; i < 20; i++)
        {
            await client.SendTextAsync($"m{i}", _timeout.Token);
        }

        Task reading = Task.Run(async () =>
        {
            bool more = await firstMove;
            while (more)
            {
                pulled.Add(reader.Current.Text!);
                if (pulled.Count == 20)
                {
                    return;
                }

                more = await reader.MoveNextAsync();
            }
        });
        await reading.WaitAsync(_timeout.Token);
        await reader.DisposeAsync();
        string[] expected = Enumerable.Range(0, 20).Select(i => $"m{i}").ToArray();
        Assert.Equal(expected, pulled);
        await ClientTestKit.WaitUntilAsync(() => handled.Count == 20, "handlers saw all");
        Assert.Equal(expected, handled);
    }

    [Fact]
    public async Task ReadAllAsync_EndsWhenClientCloses()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);
        Task<int> count = Task.Run(async () =>
        {
            int n = 0;
            await foreach (WebSocketClientMessage unused in client.ReadAllAsync(_timeout.Token))
            {
                n++;
            }

            return n;
        });
        await client.CloseAsync(cancellationToken: _timeout.Token);
        Assert.Equal(0, await count.WaitAsync(_timeout.Token));
    }

    [Fact]
    public async Task SendJsonAsync_SourceGenerated_RoundTripsParsedJson()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var received = new TaskCompletionSource<WebSocketClientMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage((m, _) => { received.TrySetResult(m); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);
        var order = new TestOrder("auth_response", 42, ["a", "b"]);
        await client.SendJsonAsync(order, TestJsonContext.Default.TestOrder, _timeout.Token);

        WebSocketClientMessage message = await received.Task.WaitAsync(_timeout.Token);
        Assert.True(message.IsText);
        Assert.True(message.IsJson);
        Assert.Equal("auth_response", message.Json!.Value.GetProperty("type").GetString());
        Assert.Equal(42, message.Json!.Value.GetProperty("id").GetInt32());
        TestOrder? back = message.Deserialize(TestJsonContext.Default.TestOrder);
        Assert.Equal(order.Type, back!.Type);
        Assert.Equal(order.Id, back.Id);
        Assert.Equal(order.Items, back.Items);
    }

    [Fact]
    public async Task SendJsonAsync_Reflection_WritesCamelCaseByDefault_AndReadsAWebStyleReply()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var received = new TaskCompletionSource<WebSocketClientMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage((m, _) => { received.TrySetResult(m); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);

        await client.SendJsonAsync(new TestOrder("auth", 7, ["x"]), cancellationToken: _timeout.Token);

        // Web defaults, like HttpClient's JSON helpers: what a JavaScript or Python server expects.
        WebSocketClientMessage message = await received.Task.WaitAsync(_timeout.Token);
        Assert.Equal("""{"type":"auth","id":7,"items":["x"]}""", message.Text);
        TestOrder? back = message.Deserialize<TestOrder>();
        Assert.Equal(("auth", 7), (back!.Type, back.Id));
        Assert.Equal(["x"], back.Items);

        // A camelCase reply from a server fills every field (case-insensitive), numbers as strings too.
        var reply = new WebSocketClientMessage(WebSocketMessageType.Text, """{"TYPE":"ok","id":"9","items":[]}""", default);
        TestOrder? parsed = reply.Deserialize<TestOrder>();
        Assert.Equal(("ok", 9), (parsed!.Type, parsed.Id));
    }

    [Fact]
    public async Task SendJsonAsync_Reflection_UsesTheClientsSerializerOptions_ForSendingAndReceiving()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o => o.JsonSerializerOptions = new JsonSerializerOptions()));
        var received = new TaskCompletionSource<WebSocketClientMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage((m, _) => { received.TrySetResult(m); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);

        await client.SendJsonAsync(new TestOrder("auth", 7, []), cancellationToken: _timeout.Token);

        WebSocketClientMessage message = await received.Task.WaitAsync(_timeout.Token);
        Assert.Equal("""{"Type":"auth","Id":7,"Items":[]}""", message.Text);
        Assert.Equal(7, message.Deserialize<TestOrder>()!.Id);

        // The client's options are case-sensitive: a camelCase payload leaves the fields empty.
        var camel = new WebSocketClientMessage(WebSocketMessageType.Text, """{"id":7}""", default, new WebSocketClientMessage.JsonCache(new JsonSerializerOptions()), 1);
        Assert.Equal(0, camel.Deserialize<TestOrder>()!.Id);
    }

    [Fact]
    public async Task CancellationToken_CanBePassedPositionally_AsWithClientWebSocket()
    {
        CancellationToken ct = _timeout.Token;
        await using (WebSocketClient created = await WebSocketClient.CreateConnectedAsync(_host.GetUri("/echo"), ct))
        {
            Assert.True(created.IsOpen);
        }

        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        var received = new TaskCompletionSource<WebSocketClientMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage((m, _) => { received.TrySetResult(m); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), ct);
        Assert.True((await client.PingAsync("hi"u8.ToArray(), ct)).Success);
        await client.SendJsonAsync(new TestOrder("t", 1, []), ct);
        Assert.Equal("t", (await received.Task.WaitAsync(ct)).Json!.Value.GetProperty("type").GetString());
        await client.CloseAsync(ct);
        Assert.Equal(WebSocketClientState.Closed, client.State);

        await using var connection = new Duplex.Connection.WebSocketConnection();
        await connection.ConnectAsync(_host.GetUri("/echo"), ct);
        await connection.CloseAsync(ct);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, connection.LocalCloseStatus);

        await using var manager = new Duplex.Manager.WebSocketClientManager();
        manager.CreateClient("a", _host.GetUri("/echo"), options: ClientTestKit.FastOptions());
        await manager.ConnectAllAsync(ct);
        await manager.CloseAllAsync(ct);
    }

    public static TheoryData<string> HandlerFailureWitnesses => ["nothing", "error-handler", "logger", "override", "turned-off"];

    [Theory]
    [MemberData(nameof(HandlerFailureWitnesses))]
    public async Task HandlerThrows_WithNothingToShowIt_IsWrittenToStandardErrorOnce(string witness)
    {
        var logger = new CapturingLogger();
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            if (witness == "logger")
            {
                o.Logger = logger;
            }

            o.WriteUnobservedHandlerErrors = witness != "turned-off";
        });
        var errors = new ConcurrentQueue<Exception>();
        await using WebSocketClient client = witness == "override" ? new ErrorObservingClient(options, errors) : new WebSocketClient(options);
        using var standardError = new StringWriter();
        client.StandardError = standardError;
        if (witness == "error-handler")
        {
            client.OnError((e, _) => { errors.Enqueue(e); return ValueTask.CompletedTask; });
        }

        var handled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        client.OnMessage((m, _) =>
        {
            if (Interlocked.Increment(ref calls) == 2)
            {
                handled.TrySetResult();
            }

            throw new KeyNotFoundException("no such key: " + m.Text);
        });
        await client.ConnectAsync(_host.GetUri("/echo?token=SECRET"), _timeout.Token);
        await client.SendTextAsync("a", _timeout.Token);
        await client.SendTextAsync("b", _timeout.Token);
        await handled.Task.WaitAsync(_timeout.Token);
        await client.CloseAsync(_timeout.Token);

        string written = standardError.ToString();
        if (witness == "nothing")
        {
            // One line for the first failure, naming the exception and how to see the rest.
            string line = Assert.Single(written.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("KeyNotFoundException: no such key: a", line, StringComparison.Ordinal);
            Assert.Contains("OnError", line, StringComparison.Ordinal);
            Assert.DoesNotContain("SECRET", line, StringComparison.Ordinal);
        }
        else
        {
            Assert.Empty(written);
        }

        if (witness is "error-handler" or "override")
        {
            Assert.Equal(2, errors.Count(e => e is KeyNotFoundException));
        }

        if (witness == "logger")
        {
            Assert.Equal(2, logger.Entries.Count(e => e.EventId.Name == "HandlerFailed"));
        }
    }

    [Fact]
    public async Task ConnectAsync_Refused_LogsOneLineWithTheCause_StackTraceOnlyAtDebug_AndNoConnectionLost()
    {
        var logger = new CapturingLogger();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o => o.Logger = logger));
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        await Assert.ThrowsAsync<WebSocketConnectException>(() => client.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), _timeout.Token));

        LogEntry warning = Assert.Single(logger.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.Equal("ClientConnectFailed", warning.EventId.Name);
        Assert.Null(warning.Exception);
        Assert.Contains("refused the connection", warning.Message, StringComparison.Ordinal);
        Assert.Contains(logger.Entries, e => e.EventId.Name == "ClientConnectFailedDetail" && e.Level == Microsoft.Extensions.Logging.LogLevel.Debug && e.Exception is WebSocketConnectException);
        Assert.DoesNotContain(logger.Entries, e => e.EventId.Name is "ConnectionLost" or "ConnectionClosed");
    }

    [Fact]
    public async Task ReceivedPlainText_IsNotJson()
    {
        var message = new WebSocketClientMessage(WebSocketMessageType.Text, "{not json", default);
        Assert.False(message.IsJson);
        Assert.Null(new WebSocketClientMessage(WebSocketMessageType.Text, "hello", default).Json);
        Assert.Equal(3, new WebSocketClientMessage(WebSocketMessageType.Text, " [1,2,3]", default).Json!.Value.GetArrayLength());
        await Task.CompletedTask;
    }

    [Fact]
    public async Task PingAsync_AgainstEchoServer_ReportsRoundTripTime()
    {
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        Assert.False((await client.PingAsync(cancellationToken: _timeout.Token)).Success);
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);
        WebSocketPingResult result = await client.PingAsync(Encoding.UTF8.GetBytes("ping"), cancellationToken: _timeout.Token);
        Assert.True(result.Success);
        Assert.True(result.RoundTripTime > TimeSpan.Zero);
        Assert.Equal(result.RoundTripTime, client.LastRoundTripTime);
    }

    [Fact]
    public async Task SixteenThreads_SendingConcurrently_NoInterleavingOrLoss()
    {
        var received = new ConcurrentQueue<string>();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o => o.Connection.MaxMessageSize = 1024 * 1024));
        client.OnMessage((m, _) => { received.Enqueue(m.Text!); return ValueTask.CompletedTask; });
        await client.ConnectAsync(_host.GetUri("/echo"), cancellationToken: _timeout.Token);
        const int Threads = 16;
        const int PerThread = 100;
        await Task.WhenAll(Enumerable.Range(0, Threads).Select(t => Task.Run(async () =>
        {
            for (int i = 0; i < PerThread; i++)
            {
                await client.SendTextAsync($"{t}:{i}:{new string((char)('a' + t), (i * 53) % 2000)}", _timeout.Token);
            }
        })));
        await ClientTestKit.WaitUntilAsync(() => received.Count == Threads * PerThread, "every message echoed");
        var next = new int[Threads];
        foreach (string text in received)
        {
            string[] parts = text.Split(':', 3);
            int t = int.Parse(parts[0]);
            int i = int.Parse(parts[1]);
            Assert.Equal(next[t]++, i);
            Assert.Equal(new string((char)('a' + t), (i * 53) % 2000), parts[2]);
        }
    }

    [Fact]
    public async Task Logging_SecretsInHeadersAndQuery_NeverAppear()
    {
        var logger = new CapturingLogger();
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            o.Logger = logger;
            o.Connection.Handshake.Headers["Authorization"] = "Bearer SECRET-BEARER";
            o.Connection.Handshake.Headers["X-Api-Key"] = "SECRET-APIKEY";
            o.Connection.Handshake.Headers["Cookie"] = "session=SECRET-COOKIE";
            o.Connection.Handshake.Headers["X-Trace"] = "visible-value";
        });
        await using (var client = new WebSocketClient(options))
        {
            await client.ConnectAsync(_host.GetUri("/echo?access_token=SECRET-QUERY&room=lobby"), cancellationToken: _timeout.Token);
            await client.SendTextAsync("hi", _timeout.Token);
            await client.CloseAsync(cancellationToken: _timeout.Token);
        }

        string all = logger.AllText;
        Assert.Contains("visible-value", all, StringComparison.Ordinal);
        Assert.Contains("room=lobby", all, StringComparison.Ordinal);
        Assert.Contains(Duplex.Diagnostics.Redaction.Mask, all, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET", all, StringComparison.Ordinal);
        Assert.Contains(logger.Entries, e => e.EventId.Name == "ClientConnected");

        // Written for a person: absent values read "none", never "(null)" or "()".
        Assert.Contains("subprotocol: none", all, StringComparison.Ordinal);
        Assert.DoesNotContain("(null)", all, StringComparison.Ordinal);
        Assert.DoesNotContain("()", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Outbox_FailPolicy_RefusesWhenFull_DropOldestReportsDropped()
    {
        var dropped = new ConcurrentQueue<WebSocketOutgoingMessage>();
        await using var server = new RawWebSocketServer();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.OutboxCapacity = 2;
            o.OutboxOverflow = OutboxOverflowPolicy.DropOldest;
            o.MessageDropped = dropped.Enqueue;
            o.Reconnect.InitialDelay = TimeSpan.FromSeconds(30);
            o.Reconnect.MaxDelay = TimeSpan.FromSeconds(30);
        }));
        await ConnectThenLoseAsync(server, client);

        Task first = client.SendTextAsync("first", _timeout.Token).AsTask();
        Task second = client.SendTextAsync("second", _timeout.Token).AsTask();
        Task third = client.SendTextAsync("third", _timeout.Token).AsTask();
        await Assert.ThrowsAsync<WebSocketMessageDroppedException>(() => first);
        Assert.Equal("first", Assert.Single(dropped).Text);
        Assert.Equal(2, client.OutboxCount);

        // Cancelling a queued send takes it out of the outbox.
        using var cancel = new CancellationTokenSource();
        Task fourth = client.SendTextAsync("fourth", cancel.Token).AsTask();
        Assert.Equal(2, client.OutboxCount);
        await Assert.ThrowsAsync<WebSocketMessageDroppedException>(() => second);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fourth);
        Assert.Equal(1, client.OutboxCount);

        // Closing reports what could not be sent.
        await client.CloseAsync(cancellationToken: _timeout.Token);
        await Assert.ThrowsAsync<WebSocketMessageDroppedException>(() => third);
        Assert.Equal(["first", "second", "third"], dropped.Select(m => m.Text));
    }

    [Fact]
    public async Task Outbox_FailPolicy_ThrowsOutboxFull()
    {
        await using var server = new RawWebSocketServer();
        await using var client = new WebSocketClient(ClientTestKit.FastOptions(o =>
        {
            o.OutboxCapacity = 1;
            o.OutboxOverflow = OutboxOverflowPolicy.Fail;
            o.Reconnect.InitialDelay = TimeSpan.FromSeconds(30);
            o.Reconnect.MaxDelay = TimeSpan.FromSeconds(30);
        }));
        await ConnectThenLoseAsync(server, client);
        Task queued = client.SendTextAsync("queued", _timeout.Token).AsTask();
        await Assert.ThrowsAsync<WebSocketOutboxFullException>(() => client.SendTextAsync("refused", _timeout.Token).AsTask());
        Assert.False(queued.IsCompleted);
    }

    [Fact]
    public void Options_InvalidValue_ThrowsNamingTheOption()
    {
        ArgumentException error = Assert.ThrowsAny<ArgumentException>(() => new WebSocketClient(new WebSocketClientOptions { OutboxCapacity = 0 }));
        Assert.Equal(nameof(WebSocketClientOptions.OutboxCapacity), error.ParamName);
        error = Assert.ThrowsAny<ArgumentException>(() => new WebSocketClient(new WebSocketClientOptions { Reconnect = { Jitter = 2 } }));
        Assert.Equal(nameof(WebSocketReconnectOptions.Jitter), error.ParamName);
        error = Assert.ThrowsAny<ArgumentException>(() => new WebSocketClient(new WebSocketClientOptions { Connection = { MaxMessageSize = 0 } }));
        Assert.Equal(nameof(Duplex.Connection.WebSocketConnectionOptions.MaxMessageSize), error.ParamName);
    }

    /// <summary>Connects to the raw server, which then drops the connection; returns once the client noticed.</summary>
    private async Task ConnectThenLoseAsync(RawWebSocketServer server, WebSocketClient client)
    {
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: _timeout.Token);
        await client.ConnectAsync(server.Uri, cancellationToken: _timeout.Token);
        (await accept).Abort();
        await ClientTestKit.WaitUntilAsync(() => client.State == WebSocketClientState.Disconnected, "disconnected");
    }

    private async Task DropOnceAsync(HttpContext context)
    {
        using WebSocket socket = await context.WebSockets.AcceptWebSocketAsync();
        if (Interlocked.Increment(ref _dropOnce) == 1)
        {
            // 1012 "service restart": the client is expected to come back.
            await socket.CloseAsync((WebSocketCloseStatus)1012, "restart", context.RequestAborted);
            return;
        }

        byte[] buffer = new byte[1024];
        while ((await socket.ReceiveAsync(buffer, context.RequestAborted)).MessageType != WebSocketMessageType.Close)
        {
        }
    }
}

/// <summary>A subclass that sees every error through its override, without handlers.</summary>
internal sealed class ErrorObservingClient(WebSocketClientOptions options, ConcurrentQueue<Exception> errors) : WebSocketClient(options)
{
    protected override ValueTask OnErrorAsync(Exception error, CancellationToken cancellationToken)
    {
        errors.Enqueue(error);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A message shape for the JSON tests.</summary>
public sealed record TestOrder(string Type, int Id, IReadOnlyList<string> Items);

/// <summary>Source-generated JSON metadata for the tests (the AOT-safe path).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(TestOrder))]
internal sealed partial class TestJsonContext : JsonSerializerContext;
