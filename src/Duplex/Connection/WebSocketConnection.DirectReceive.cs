using System.Net.Sockets;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    // Non-null while the receive loop has stopped in a large frame for a ReceiveAsync call to read.
    private FrameHandOver? _handOver;

    /// <summary>Why the receive loop got the socket back from a receive call.</summary>
    private enum HandBackReason
    {
        /// <summary>The frame's payload was read, or someone else needs the loop to read: go on reading.</summary>
        Continue,

        /// <summary>The peer ended the TCP connection.</summary>
        EndOfStream,

        /// <summary>The payload broke the protocol (see the decoder's violation).</summary>
        Violation,
    }

    /// <summary>The room a waiting <see cref="ReceiveAsync"/> call offers for a large frame (0 when none waits with room); for tests.</summary>
    internal int WaitingReceiveRoom => _incoming.WaitingReaderRoom;

    /// <summary>
    /// Whether the receive loop, standing in the middle of a large frame, should let the waiting receive
    /// call read the rest of it straight into the caller's buffer: the payload then crosses memory once,
    /// as in a plain socket read. Only over a socket's own stream, whose reads the caller's token can
    /// cancel without losing a byte (unlike TLS); nothing but this frame's payload can arrive before the
    /// frame ends, so the loop misses no control frame meanwhile.
    /// </summary>
    private bool ShouldHandFrameToReceiver(Stream stream) =>
        stream is NetworkStream && _incoming.WaitingReaderRoom >= DirectReadThreshold;

    /// <summary>
    /// The loop's side: offers the frame to the receive call (a waiting one is woken when the loop awaits
    /// the returned task) and returns what completes when the socket comes back — the frame's payload
    /// read, the connection ended, or another caller (a whole-message receive, a small buffer, a Ping
    /// waiting for its Pong, the closing handshake, teardown) needs the loop to read again. While no
    /// receive call is reading, reading is paused as when the receive queue is full, so keepalive does
    /// not count a missing Pong against the peer; the loop clears that once it has the socket back. The
    /// task's result is a <see cref="HandBackReason"/> (an int, so that the loop awaits it with the same
    /// awaiter as its reads); a read that failed faults it with the read's exception.
    /// </summary>
    private Task<int> OfferFrameToReceiver()
    {
        var handOver = new FrameHandOver();
        Volatile.Write(ref _handOver, handOver);
        _receivePaused = true;
        _incoming.OfferFrames();

        // Checked after the offer is published, as PingAsync takes an offered frame back after
        // registering its Ping: a Ping sent before the offer gets its Pong even if the application
        // then stops reading in the middle of the frame.
        if (IsTornDown || Volatile.Read(ref _closeCompletion) is not null || Volatile.Read(ref _pings)?.AnyCallerWaiting() == true)
        {
            TakeFrameBack();
        }

        return handOver.Returned.Task;
    }

    /// <summary>
    /// Asks for the socket back for the receive loop: at once when no receive call is reading, otherwise
    /// when its read ends (a pending read ends when data arrives, when it is cancelled, or when the
    /// connection is torn down).
    /// </summary>
    private void TakeFrameBack()
    {
        FrameHandOver? handOver = Volatile.Read(ref _handOver);
        if (handOver is null)
        {
            return;
        }

        lock (handOver)
        {
            if (handOver.Done)
            {
                return;
            }

            if (handOver.ReceiverReading)
            {
                handOver.ReturnRequested = true;
                return;
            }

            handOver.Done = true;
        }

        GiveFrameBack(handOver, HandBackReason.Continue, null);
    }

    private void GiveFrameBack(FrameHandOver handOver, HandBackReason reason, Exception? readError)
    {
        _incoming.WithdrawFrames();
        Interlocked.CompareExchange(ref _handOver, null, handOver);
        if (readError is not null)
        {
            handOver.Returned.TrySetException(readError);
        }
        else
        {
            handOver.Returned.TrySetResult((int)reason);
        }
    }

    /// <summary>
    /// The receive call's side: reads what is there of the offered frame into <paramref name="buffer"/>.
    /// Returns null when the loop has the socket again (the frame was taken back, or the read ended the
    /// connection): the caller then waits for the queue as usual, which reports how the connection ended.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ValueWebSocketReceiveResult?> ReceiveOfferedFrameAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        FrameHandOver? handOver = Volatile.Read(ref _handOver);
        if (handOver is null)
        {
            return null;
        }

        lock (handOver)
        {
            if (handOver.Done)
            {
                return null;
            }

            handOver.ReceiverReading = true;

            // Someone reads the socket again: a missing Pong counts against the peer, as when the loop reads.
            _receivePaused = false;
        }

        HandBackReason? giveBack = null;
        Exception? error = null;
        try
        {
            // A socket read that is cancelled has taken no bytes: the frame stays offered, whole, to the
            // next receive call.
            int want = (int)Math.Min(_decoder.DataFrameRemaining, buffer.Length);
            int read = await _stream!.ReadAsync(buffer.Slice(0, want), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                giveBack = HandBackReason.EndOfStream;
                return null;
            }

            Volatile.Write(ref _lastReceivedTimestamp, _time.GetTimestamp());
            if (_decoder.Decode(buffer.Span.Slice(0, read), out _, out DecodedFrame piece) == DecodeStatus.Violation)
            {
                giveBack = HandBackReason.Violation;
                return null;
            }

            if (_decoder.DataFrameRemaining == 0)
            {
                // The frame is done: whatever follows is the loop's to read.
                giveBack = HandBackReason.Continue;
            }

            return new ValueWebSocketReceiveResult(read, ToMessageType(piece.Opcode), piece.EndOfMessage);
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
            lock (handOver)
            {
                handOver.ReceiverReading = false;
                if (giveBack is null && handOver.ReturnRequested)
                {
                    giveBack = HandBackReason.Continue;
                }

                handOver.Done = giveBack is not null;

                // Still offered, and nobody reads until the application calls again: backpressure.
                _receivePaused = !handOver.Done;
            }

            if (giveBack is { } reason)
            {
                GiveFrameBack(handOver, reason, error);
            }
        }
    }

    /// <summary>One stop of the receive loop in a large frame, handed to a receive call.</summary>
    private sealed class FrameHandOver
    {
        public readonly TaskCompletionSource<int> Returned = new(TaskCreationOptions.RunContinuationsAsynchronously);

        // Guarded by the instance's lock.
        public bool ReceiverReading;
        public bool ReturnRequested;
        public bool Done;
    }
}
