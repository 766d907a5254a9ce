using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Duplex.Client;
using Duplex.Connection;
using Duplex.Tests.Client;
using Duplex.Tests.Conformance;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Connection;

[CollectionDefinition(nameof(UnobservedTaskCollection), DisableParallelization = true)]
public sealed class UnobservedTaskCollection;

/// <summary>
/// However a connection ends, it leaves no faulted task behind that nobody observes (keepalive Pings,
/// sends whose caller stopped waiting), and every waiter gets an exception of its own. Runs alone, so
/// the process-wide <see cref="TaskScheduler.UnobservedTaskException"/> counts only these connections.
/// </summary>
[Collection(nameof(UnobservedTaskCollection))]
public sealed class ConnectionEndTaskTests
{
    private const int Rounds = 5;

    public static TheoryData<string> Endings => ["keepalive-timeout", "reset-with-cancelled-sends", "protocol-violation", "server-close", "server-fin", "abort"];

    [Theory]
    [MemberData(nameof(Endings))]
    public Task ConnectionEnds_LeavesNoUnobservedFaultedTask(string ending) =>
        AssertNoUnobservedTaskExceptionAsync(async () =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                await EndOneConnectionAsync(ending);
            }
        });

    [Fact]
    public Task Client_ReconnectingAfterKeepAliveTimeouts_LeavesNoUnobservedFaultedTask() =>
        AssertNoUnobservedTaskExceptionAsync(RunClientAgainstSilentServerAsync);

    [Fact]
    public async Task ConnectionLost_EveryWaitingPingGetsAnExceptionOfItsOwn_WithTheSharedCauseInside()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        Task<TimeSpan>[] pings = [.. Enumerable.Range(0, 3).Select(i => session.Client.PingAsync(new byte[] { (byte)i }, session.Token).AsTask())];
        for (int i = 0; i < pings.Length; i++)
        {
            await session.ReadClientFrameAsync(0x9);
        }

        session.Raw.Abort();
        var errors = new List<WebSocketClosedException>();
        foreach (Task<TimeSpan> ping in pings)
        {
            errors.Add(await Assert.ThrowsAsync<WebSocketClosedException>(() => ping));
        }

        Assert.Equal(errors.Count, errors.Distinct(ReferenceEqualityComparer.Instance).Count());
        Assert.All(errors, e => Assert.Equal((WebSocketCloseStatus)1006, e.CloseStatus));
        Assert.All(errors, e => Assert.NotNull(e.InnerException));
        Assert.Single(errors.Select(e => e.InnerException).Distinct(ReferenceEqualityComparer.Instance));
    }

    /// <summary>
    /// A client whose server accepts and then says nothing: keepalive fails each connection, the client
    /// reconnects, and pings and sends from the application are caught in between.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task RunClientAgainstSilentServerAsync()
    {
        using CancellationTokenSource deadline = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));
        await using var server = new RawWebSocketServer();
        WebSocketClientOptions options = ClientTestKit.FastOptions(o =>
        {
            o.Connection.KeepAliveInterval = TimeSpan.FromMilliseconds(50);
            o.Connection.KeepAliveTimeout = TimeSpan.FromMilliseconds(50);
            o.PingTimeout = TimeSpan.FromSeconds(5);
        });
        await using var client = new WebSocketClient(options);
        var connections = new List<RawConnection>();
        Task<RawConnection> accept = server.AcceptWebSocketAsync(cancellationToken: deadline.Token);
        await client.ConnectAsync(server.Uri, cancellationToken: deadline.Token);
        for (int i = 0; i < 3; i++)
        {
            connections.Add(await accept);
            accept = server.AcceptWebSocketAsync(cancellationToken: deadline.Token);

            // A ping that the silent server never answers, and one whose caller stops waiting.
            Task<WebSocketPingResult> ping = client.PingAsync("p"u8.ToArray(), cancellationToken: deadline.Token).AsTask();
            using (var stopWaiting = new CancellationTokenSource())
            {
                Task<WebSocketPingResult> abandoned = client.PingAsync("q"u8.ToArray(), cancellationToken: stopWaiting.Token).AsTask();
                stopWaiting.Cancel();

                // Cancelled while it waited, or answered at once while the client was between connections.
                await abandoned.ContinueWith(static t => Assert.True(t.IsCanceled || t.IsCompletedSuccessfully, t.Exception?.Message), TaskScheduler.Default);
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.SendBinaryAsync(new byte[16], stopWaiting.Token).AsTask());
            }

            Assert.False((await ping).Success, "The silent server answered a Ping.");
        }

        connections.Add(await accept);
        await client.CloseAsync(cancellationToken: deadline.Token);
        foreach (RawConnection connection in connections)
        {
            await connection.DisposeAsync();
        }
    }

    /// <summary>Runs <paramref name="scenario"/> and fails if any task exception went unobserved meanwhile.</summary>
    private static async Task AssertNoUnobservedTaskExceptionAsync(Func<Task> scenario)
    {
        // What earlier tests left for the finalizer is reported now, before counting starts.
        CollectEverything();
        var unobserved = new ConcurrentQueue<Exception>();
        void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e) => unobserved.Enqueue(e.Exception);

        TaskScheduler.UnobservedTaskException += OnUnobserved;
        try
        {
            await scenario();

            // Faulted tasks are reported when they are finalized.
            CollectEverything();
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= OnUnobserved;
        }

        Assert.True(unobserved.IsEmpty, $"{unobserved.Count} unobserved task exception(s): {string.Join("; ", unobserved.Select(e => e.InnerException?.GetType().Name + ": " + e.InnerException?.Message))}");
    }

    private static void CollectEverything()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task EndOneConnectionAsync(string ending)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o =>
        {
            if (ending == "keepalive-timeout")
            {
                o.KeepAliveInterval = TimeSpan.FromMilliseconds(50);
                o.KeepAliveTimeout = TimeSpan.FromMilliseconds(50);
            }

            o.SendBufferLimit = 1024;
        });
        WebSocketConnection client = session.Client;
        switch (ending)
        {
            case "keepalive-timeout":
                // The server never answers: keepalive's own Ping is left waiting when the connection fails.
                await client.Completion.WaitAsync(session.Token);
                break;

            case "reset-with-cancelled-sends":
                await ResetWithCancelledSendsAsync(session);
                break;

            case "protocol-violation":
                _ = client.PingAsync("p"u8.ToArray(), session.Token).AsTask().ContinueWith(static t => t.Exception, TaskScheduler.Default);
                await session.ReadClientFrameAsync(0x9);
                await session.WriteAsync(RawConnection.Frame(0x3, [])); // a reserved opcode: 1002
                await session.ExpectFailedAsync(1002);
                break;

            case "server-close":
                await session.CloseFromServerAsync();
                break;

            case "server-fin":
                await session.Raw.DisposeAsync();
                await client.Completion.WaitAsync(session.Token);
                break;

            case "abort":
                using (var pingWait = new CancellationTokenSource())
                {
                    Task ping = client.PingAsync(default, pingWait.Token).AsTask();
                    await session.ReadClientFrameAsync(0x9);
                    pingWait.Cancel();
                    await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ping);
                    client.Abort();
                    await client.Completion.WaitAsync(session.Token);
                }

                break;
        }
    }

    /// <summary>Sends wait for buffer space, their callers stop waiting, then the link is reset.</summary>
    private static async Task ResetWithCancelledSendsAsync(ConformanceSession session)
    {
        WebSocketConnection client = session.Client;
        var big = new byte[4 * 1024 * 1024];
        using var stopWaiting = new CancellationTokenSource();
        var waiting = new List<Task>();

        // The server does not read: the first large send fills the socket, the next ones wait for room.
        for (int i = 0; i < 4; i++)
        {
            ValueTask send = client.SendBinaryAsync(big, stopWaiting.Token);
            if (!send.IsCompleted)
            {
                waiting.Add(send.AsTask());
            }
        }

        Task flush = client.FlushAsync(stopWaiting.Token).AsTask();
        Assert.NotEmpty(waiting);
        stopWaiting.Cancel();
        foreach (Task send in waiting.Append(flush))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        }

        session.Raw.Abort();
        await client.Completion.WaitAsync(session.Token);
    }
}
