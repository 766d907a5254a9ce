using Duplex.Connection.Receive;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Connection.Receive;

/// <summary>
/// The bounded hand-off between the receive loop and the application's receive call: order, the bound
/// (the writer waits for room), the reader's wait (woken by a batch, by completion, or cancelled
/// without losing anything), and completion (queued batches are still read, later ones dropped).
/// Over the wire the same queue is exercised by the conformance tests (backpressure in categories 2 and 9).
/// </summary>
public sealed class ReceiveQueueTests
{
    [Fact]
    public void Batches_ComeOutInTheOrderTheyWentIn()
    {
        var queue = new ReceiveQueue(capacity: 8);
        ReceivedBatch[] batches = [Batch(1), Batch(2), Batch(3)];
        foreach (ReceivedBatch batch in batches)
        {
            Assert.True(queue.TryWrite(batch));
        }

        foreach (ReceivedBatch expected in batches)
        {
            Assert.True(queue.TryRead(out ReceivedBatch? actual));
            Assert.Same(expected, actual);
            Assert.Null(actual.NextInQueue);
        }

        Assert.False(queue.TryRead(out _));
    }

    [Fact]
    public async Task Full_WriterWaitsUntilTheReaderTakesOne()
    {
        var queue = new ReceiveQueue(capacity: 2);
        Assert.True(queue.TryWrite(Batch(1)));
        Assert.True(queue.TryWrite(Batch(2)));
        Assert.False(queue.TryWrite(Batch(3)));

        ValueTask space = queue.WaitForSpaceAsync();
        Assert.False(space.IsCompleted);

        Assert.True(queue.TryRead(out _));
        await space.AsTask().WaitAsync(TestTimeouts.Default);
        Assert.True(queue.TryWrite(Batch(3)));
    }

    [Fact]
    public async Task WaitingReader_IsWokenByTheNextBatch()
    {
        var queue = new ReceiveQueue(capacity: 2);
        ValueTask<bool> wait = queue.WaitToReadAsync(CancellationToken.None);
        Assert.False(wait.IsCompleted);

        ReceivedBatch batch = Batch(7);
        Assert.True(queue.TryWrite(batch));
        Assert.True(await wait.AsTask().WaitAsync(TestTimeouts.Default));
        Assert.True(queue.TryRead(out ReceivedBatch? read));
        Assert.Same(batch, read);
    }

    [Fact]
    public async Task CancelledWait_ThrowsAndLosesNothing()
    {
        var queue = new ReceiveQueue(capacity: 2);
        using var cancel = new CancellationTokenSource();
        ValueTask<bool> wait = queue.WaitToReadAsync(cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.AsTask().WaitAsync(TestTimeouts.Default));

        // The queue is usable again: a new wait, then the batch that arrives is there.
        ValueTask<bool> again = queue.WaitToReadAsync(CancellationToken.None);
        ReceivedBatch batch = Batch(1);
        Assert.True(queue.TryWrite(batch));
        Assert.True(await again.AsTask().WaitAsync(TestTimeouts.Default));
        Assert.True(queue.TryRead(out ReceivedBatch? read));
        Assert.Same(batch, read);
    }

    [Fact]
    public async Task AlreadyCancelledToken_FailsAtOnceWhenEmpty_ButABatchIsStillReported()
    {
        var queue = new ReceiveQueue(capacity: 2);
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queue.WaitToReadAsync(cancel.Token).AsTask());

        Assert.True(queue.TryWrite(Batch(1)));
        Assert.True(await queue.WaitToReadAsync(cancel.Token));
    }

    [Fact]
    public async Task Complete_WakesTheReaderWithFalse_AfterTheQueuedBatches()
    {
        var queue = new ReceiveQueue(capacity: 4);
        ReceivedBatch queued = Batch(1);
        Assert.True(queue.TryWrite(queued));
        queue.Complete();

        Assert.True(await queue.WaitToReadAsync(CancellationToken.None));
        Assert.True(queue.TryRead(out ReceivedBatch? read));
        Assert.Same(queued, read);
        Assert.False(await queue.WaitToReadAsync(CancellationToken.None));

        var empty = new ReceiveQueue(capacity: 4);
        ValueTask<bool> waiting = empty.WaitToReadAsync(CancellationToken.None);
        empty.Complete();
        Assert.False(await waiting.AsTask().WaitAsync(TestTimeouts.Default));
    }

    [Fact]
    public async Task Complete_ReleasesAWaitingWriter_AndLaterBatchesAreDroppedAndReleased()
    {
        var queue = new ReceiveQueue(capacity: 1);
        Assert.True(queue.TryWrite(Batch(1)));
        ValueTask space = queue.WaitForSpaceAsync();
        Assert.False(space.IsCompleted);

        queue.Complete();
        await space.AsTask().WaitAsync(TestTimeouts.Default);

        ReceivedBatch late = Batch(2);
        Assert.True(queue.TryWrite(late));
        Assert.Equal(0, late.Count); // released: its buffers went back to the pool
        Assert.True(queue.TryRead(out _));
        Assert.False(queue.TryRead(out _));
    }

    [Fact]
    public async Task ManyBatches_ThroughASmallQueue_ArriveAllAndInOrder()
    {
        var queue = new ReceiveQueue(capacity: 3);
        const int Count = 10_000;
        Task writer = Task.Run(async () =>
        {
            for (int i = 0; i < Count; i++)
            {
                ReceivedBatch batch = Batch(i);
                while (!queue.TryWrite(batch))
                {
                    await queue.WaitForSpaceAsync();
                }
            }

            queue.Complete();
        });

        int expected = 0;
        while (await queue.WaitToReadAsync(CancellationToken.None).AsTask().WaitAsync(TestTimeouts.Default))
        {
            while (queue.TryRead(out ReceivedBatch? batch))
            {
                Assert.Equal(expected++, batch.Pieces[0].Count);
                batch.Release();
            }
        }

        await writer.WaitAsync(TestTimeouts.Default);
        Assert.Equal(Count, expected);
    }

    [Fact]
    public async Task ReaderCancellingItsWaitsAtRandom_WhileTheWriterWrites_LosesNothingAndKeepsOrder()
    {
        // Cancellations racing the writer's wake-ups: every wait ends either with a batch to read or cancelled,
        // and whatever was written is read exactly once, in order.
        var queue = new ReceiveQueue(capacity: 2);
        const int Count = 5_000;
        Task writer = Task.Run(async () =>
        {
            var random = new Random(7);
            for (int i = 0; i < Count; i++)
            {
                ReceivedBatch batch = Batch(i);
                while (!queue.TryWrite(batch))
                {
                    await queue.WaitForSpaceAsync();
                }

                int pause = random.Next(64);
                if (pause == 0)
                {
                    // Long enough for the reader's waits to time out: cancellations race the next write.
                    await Task.Delay(1);
                }
                else if (pause < 16)
                {
                    await Task.Yield();
                }
            }

            queue.Complete();
        });

        int expected = 0;
        int cancelled = 0;
        using var deadline = TestTimeouts.CreateSource();
        while (true)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
            wait.CancelAfter(TimeSpan.FromTicks(expected % 3 == 0 ? 1 : 20));
            bool more;
            try
            {
                more = await queue.WaitToReadAsync(wait.Token);
            }
            catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
            {
                cancelled++;
                continue;
            }

            if (!more)
            {
                break;
            }

            while (queue.TryRead(out ReceivedBatch? batch))
            {
                Assert.Equal(expected++, batch.Pieces[0].Count);
                batch.Release();
            }
        }

        await writer.WaitAsync(TestTimeouts.Default);
        Assert.Equal(Count, expected);
        Assert.False(queue.TryRead(out _));
        Assert.True(cancelled > 0, "No wait was cancelled: the test did not exercise the race.");
    }

    [Fact]
    public async Task DeferredWrite_HoldsTheWake_UntilReleasedInline_ThenTheReaderRunsOnTheReleasingThread()
    {
        var queue = new ReceiveQueue(capacity: 2);
        ValueTask<bool> wait = queue.WaitToReadAsync(CancellationToken.None);
        ReceivedBatch batch = Batch(3);
        Assert.True(queue.TryWrite(batch, deferWake: true));
        await Task.Delay(20);
        Assert.False(wait.IsCompleted);

        int? continuedOn = null;
        ValueTaskAwaiter<bool> awaiter = wait.GetAwaiter();
        awaiter.UnsafeOnCompleted(() => continuedOn = Environment.CurrentManagedThreadId);
        queue.WakeDeferredReader(inline: true);

        // The continuation ran before WakeDeferredReader returned, on this thread.
        Assert.Equal(Environment.CurrentManagedThreadId, continuedOn);
        Assert.True(await wait);
        Assert.True(queue.TryRead(out ReceivedBatch? read));
        Assert.Same(batch, read);

        // Nothing is held back any more: releasing again does nothing, and the next wait waits.
        queue.WakeDeferredReader(inline: true);
        Assert.False(queue.WaitToReadAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task DeferredWrite_ReleasedNotInline_WakesTheReaderOnThePool()
    {
        var queue = new ReceiveQueue(capacity: 2);
        ValueTask<bool> wait = queue.WaitToReadAsync(CancellationToken.None);
        Assert.True(queue.TryWrite(Batch(1), deferWake: true));
        queue.WakeDeferredReader(inline: false);
        Assert.True(await wait.AsTask().WaitAsync(TestTimeouts.Default));
        Assert.True(queue.TryRead(out _));
    }

    [Fact]
    public async Task DeferredWrite_FollowedByAnOrdinaryWrite_WakesTheReaderAtOnce_BothBatchesInOrder()
    {
        var queue = new ReceiveQueue(capacity: 4);
        ValueTask<bool> wait = queue.WaitToReadAsync(CancellationToken.None);
        ReceivedBatch first = Batch(1);
        ReceivedBatch second = Batch(2);
        Assert.True(queue.TryWrite(first, deferWake: true));
        Assert.True(queue.TryWrite(second));
        Assert.True(await wait.AsTask().WaitAsync(TestTimeouts.Default));
        queue.WakeDeferredReader(inline: true);

        Assert.True(queue.TryRead(out ReceivedBatch? a));
        Assert.True(queue.TryRead(out ReceivedBatch? b));
        Assert.Same(first, a);
        Assert.Same(second, b);
    }

    [Fact]
    public async Task DeferredWrite_ThenComplete_TheReaderStillGetsTheBatch_ThenFalse()
    {
        var queue = new ReceiveQueue(capacity: 2);
        ValueTask<bool> wait = queue.WaitToReadAsync(CancellationToken.None);
        ReceivedBatch batch = Batch(5);
        Assert.True(queue.TryWrite(batch, deferWake: true));
        queue.Complete();

        Assert.True(await wait.AsTask().WaitAsync(TestTimeouts.Default));
        queue.WakeDeferredReader(inline: true);
        Assert.True(queue.TryRead(out ReceivedBatch? read));
        Assert.Same(batch, read);
        Assert.False(await queue.WaitToReadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task DeferredWrite_ThenTheReaderCancels_TheBatchStaysQueued_AndTheReleaseDoesNothing()
    {
        var queue = new ReceiveQueue(capacity: 2);
        using var cancel = new CancellationTokenSource();
        ValueTask<bool> wait = queue.WaitToReadAsync(cancel.Token);
        ReceivedBatch batch = Batch(4);
        Assert.True(queue.TryWrite(batch, deferWake: true));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.AsTask().WaitAsync(TestTimeouts.Default));

        queue.WakeDeferredReader(inline: true);
        Assert.True(await queue.WaitToReadAsync(CancellationToken.None));
        Assert.True(queue.TryRead(out ReceivedBatch? read));
        Assert.Same(batch, read);
    }

    [Fact]
    public void ReleasingWithNothingDeferred_LeavesAWaitingReaderWaiting()
    {
        var queue = new ReceiveQueue(capacity: 2);
        ValueTask<bool> wait = queue.WaitToReadAsync(CancellationToken.None);
        queue.WakeDeferredReader(inline: true);
        queue.WakeDeferredReader(inline: false);
        Assert.False(wait.IsCompleted);
        queue.Complete();
    }

    /// <summary>A batch with one piece whose length tells the batches apart.</summary>
    private static ReceivedBatch Batch(int tag)
    {
        var batch = new ReceivedBatch();
        batch.Add(new ReceivedBatch.Piece(new byte[tag], 0, tag, WebSocketMessageType.Binary, EndOfMessage: true, Owned: false));
        return batch;
    }
}
