using Duplex.Client;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Client;

/// <summary>Sends that meet a connection that died before the supervisor could see it end.</summary>
public sealed class WebSocketClientDeadConnectionTests : RawServerClientTestBase
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SendTextAsync_ConnectionDiedWhileSupervisorIsBusy_QueuesInOutboxAtOnce_AndGoesOutAfterReconnect(bool resetNotFin)
    {
        // A message handler holds the pump up, so the end cannot be seen through it (only through the
        // connection's own end, which the supervisor may not have reached yet). A send
        // that meets the dead connection must then queue in the outbox and return, not retry the dead
        // connection until the supervisor gets round to it (with many senders that used to take every
        // pool thread, and the supervisor never got one).
        var inHandler = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = new WebSocketClient(ClientTestKit.FastOptions());
        client.OnMessage(async (message, ct) =>
        {
            if (message.Text == "hold")
            {
                inHandler.TrySetResult();
                await release.Task.WaitAsync(ct);
            }
        });

        Task<RawConnection> accept = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        await client.ConnectAsync(Server.Uri, cancellationToken: Deadline.Token);
        RawConnection first = await accept;
        await first.SendTextAsync("hold", Deadline.Token);
        await inHandler.Task.WaitAsync(Deadline.Token);

        Task<RawConnection> reconnect = Server.AcceptWebSocketAsync(cancellationToken: Deadline.Token);
        if (resetNotFin)
        {
            first.Abort();
        }
        else
        {
            await first.DisposeAsync();
        }

        // One thread sends until a send does not complete at once: that one went to the outbox. Each
        // call must return; before the fix, the first call to meet the dead connection never did.
        var queued = new TaskCompletionSource<(int Number, Task Send)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sender = new Thread(() =>
        {
            try
            {
                for (int i = 0; !Deadline.IsCancellationRequested; i++)
                {
                    ValueTask send = client.SendTextAsync("m" + i, Deadline.Token);
                    if (!send.IsCompleted)
                    {
                        queued.TrySetResult((i, send.AsTask()));
                        return;
                    }

                    send.GetAwaiter().GetResult();
                    Thread.Sleep(1);
                }
            }
            catch (Exception ex)
            {
                queued.TrySetException(ex);
            }
        })
        { IsBackground = true };
        sender.Start();

        int number;
        Task pending;
        try
        {
            (number, pending) = await queued.Task.WaitAsync(TimeSpan.FromSeconds(10), Deadline.Token);

            // Checked while the supervisor is still held, before a reconnect could drain the outbox.
            Assert.False(pending.IsCompleted);
            Assert.True(client.OutboxCount >= 1);
        }
        finally
        {
            // Lets the supervisor go on either way, so a send stuck on the dead connection is freed.
            release.TrySetResult();
        }

        RawConnection second = await reconnect;
        await pending.WaitAsync(Deadline.Token);
        string expected = "m" + number;
        while (true)
        {
            RawFrame frame = await second.ReadFrameAsync(cancellationToken: Deadline.Token);
            if (frame.Text == expected)
            {
                break;
            }
        }
    }
}
