using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Duplex.Protocol;

namespace Duplex.Connection.Receive;

/// <summary>Why the receive loop got the socket back from a receive call.</summary>
internal enum HandBackReason
{
    /// <summary>The frame's payload was read, or someone else needs the loop to read: go on reading.</summary>
    Continue,

    /// <summary>The peer ended the TCP connection.</summary>
    EndOfStream,

    /// <summary>The payload broke the protocol (see the decoder's violation).</summary>
    Violation,
}

/// <summary>
/// The receive loop stopping in the middle of a large frame so that a waiting receive call reads the
/// rest of it straight into the caller's buffer: the payload then crosses memory once, as in a plain
/// socket read. Only over a socket's own stream, whose reads the caller's token can cancel without
/// losing a byte (unlike TLS); nothing but this frame's payload can arrive before the frame ends, so
/// the loop misses no control frame meanwhile. Created with the first such frame.
/// </summary>
/// <remarks>
/// One stop at a time (<see cref="Stop"/>), its flags guarded by its own monitor. While the frame is
/// offered and no receive call reads it, reading is paused (<see cref="Holding"/>), as when the receive
/// queue is full, so keepalive does not count a missing Pong against the peer.
/// </remarks>
internal sealed class FrameHandOver(FrameReceiver receiver, ReceiveQueue queue)
{
    // Non-null while the receive loop has stopped in a large frame for a receive call to read.
    private Stop? _current;

    /// <summary>Whether the loop waits in a frame that no receive call is reading now.</summary>
    public bool Holding
    {
        get
        {
            Stop? stop = Volatile.Read(ref _current);
            if (stop is null)
            {
                return false;
            }

            lock (stop)
            {
                return !stop.Done && !stop.ReceiverReading;
            }
        }
    }

    /// <summary>Whether the loop, standing in a large frame over <paramref name="stream"/>, should offer it.</summary>
    public static bool ShouldOffer(Stream stream, ReceiveQueue queue) =>
        stream is NetworkStream && queue.WaitingReaderRoom >= FrameReceiver.DirectReadThreshold;

    /// <summary>
    /// The loop's side: offers the frame to the receive call (a waiting one is woken when the loop awaits
    /// the returned task) and returns what completes when the socket comes back — the frame's payload
    /// read, the connection ended, or another caller (a whole-message receive, a small buffer, a Ping
    /// waiting for its Pong, the closing handshake, teardown) needs the loop to read again. The task's
    /// result is a <see cref="HandBackReason"/> (an int, so that the loop awaits it with the same
    /// awaiter as its reads); a read that failed faults it with the read's exception.
    /// </summary>
    public Task<int> Offer()
    {
        var stop = new Stop();
        Volatile.Write(ref _current, stop);
        queue.OfferFrames();
        return stop.Returned.Task;
    }

    /// <summary>
    /// Asks for the socket back for the receive loop: at once when no receive call is reading, otherwise
    /// when its read ends (a pending read ends when data arrives, when it is cancelled, or when the
    /// connection is torn down).
    /// </summary>
    public void TakeBack()
    {
        Stop? stop = Volatile.Read(ref _current);
        if (stop is null)
        {
            return;
        }

        lock (stop)
        {
            if (stop.Done)
            {
                return;
            }

            if (stop.ReceiverReading)
            {
                stop.ReturnRequested = true;
                return;
            }

            stop.Done = true;
        }

        GiveBack(stop, HandBackReason.Continue, null);
    }

    /// <summary>
    /// The receive call's side: reads what is there of the offered frame into <paramref name="buffer"/>.
    /// Returns null when the loop has the socket again (the frame was taken back, or the read ended the
    /// connection): the caller then waits for the queue as usual, which reports how the connection ended.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ValueWebSocketReceiveResult?> ReceiveAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        Stop? stop = Volatile.Read(ref _current);
        if (stop is null)
        {
            return null;
        }

        lock (stop)
        {
            if (stop.Done)
            {
                return null;
            }

            // Someone reads the socket again: a missing Pong counts against the peer, as when the loop reads.
            stop.ReceiverReading = true;
        }

        FrameDecoder decoder = receiver.Decoder;
        HandBackReason? giveBack = null;
        Exception? error = null;
        try
        {
            // A socket read that is cancelled has taken no bytes: the frame stays offered, whole, to the
            // next receive call.
            int want = (int)Math.Min(decoder.DataFrameRemaining, buffer.Length);
            int read = await stream.ReadAsync(buffer.Slice(0, want), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                giveBack = HandBackReason.EndOfStream;
                return null;
            }

            receiver.MarkReceived();
            if (decoder.Decode(buffer.Span.Slice(0, read), out _, out DecodedFrame piece) == DecodeStatus.Violation)
            {
                giveBack = HandBackReason.Violation;
                return null;
            }

            if (decoder.DataFrameRemaining == 0)
            {
                // The frame is done: whatever follows is the loop's to read.
                giveBack = HandBackReason.Continue;
            }

            return new ValueWebSocketReceiveResult(read, FrameReceiver.ToMessageType(piece.Opcode), piece.EndOfMessage);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            giveBack = HandBackReason.Continue;
            error = ex;
            return null;
        }
        finally
        {
            lock (stop)
            {
                stop.ReceiverReading = false;
                if (giveBack is null && stop.ReturnRequested)
                {
                    giveBack = HandBackReason.Continue;
                }

                // Still offered, and nobody reads until the application calls again: backpressure.
                stop.Done = giveBack is not null;
            }

            if (giveBack is { } reason)
            {
                GiveBack(stop, reason, error);
            }
        }
    }

    private void GiveBack(Stop stop, HandBackReason reason, Exception? readError)
    {
        queue.WithdrawFrames();
        Interlocked.CompareExchange(ref _current, null, stop);
        if (readError is not null)
        {
            stop.Returned.TrySetException(readError);
        }
        else
        {
            stop.Returned.TrySetResult((int)reason);
        }
    }

    /// <summary>One stop of the receive loop in a large frame, handed to a receive call.</summary>
    private sealed class Stop
    {
        public readonly TaskCompletionSource<int> Returned = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // Guarded by the instance's monitor.
        public bool ReceiverReading;
        public bool ReturnRequested;
        public bool Done;
    }
}
