using System.Buffers;
using Duplex.Connection.Receive;
using Duplex.Diagnostics;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    // Set once the peer broke the protocol; the connection is failed for it when the application has
    // taken the messages that came before (see BeginViolation).
    private PendingViolation? _violation;

    /// <summary>
    /// The peer broke the protocol (the receive loop's call, before it queues the messages that arrived
    /// whole before the violating frame). RFC 6455 §7.1.7 has the connection failed and nothing after
    /// that frame processed; the messages before it are still delivered, and the application may
    /// answer them: the connection fails when it comes back for more after the last of them, or after
    /// the close timeout if it does not (<see cref="FailPendingViolation"/>). Null when the connection
    /// was torn down already.
    /// </summary>
    internal PendingViolation? BeginViolation(ProtocolViolation violation)
    {
        Log.ProtocolViolation(_logger, violation.CloseStatus, violation.Message);
        var pending = new PendingViolation(violation);
        Volatile.Write(ref _violation, pending);
        if (IsTornDown)
        {
            return null;
        }

        // The deadline runs from now, so a full queue (an application that does not read) cannot hold
        // the delivery of the messages before the violation, and with it the connection, open past it.
        pending.SetDeadline(_time.CreateTimer(static s => ((WebSocketConnection)s!).FailPendingViolation(), this, _closeTimeout, Timeout.InfiniteTimeSpan));
        return pending;
    }

    /// <summary>
    /// Once the messages before the violation are queued: the queue ends when the application has taken
    /// them, and the loop reads nothing until the connection is failed; then it waits for the server to
    /// end the TCP connection (see <see cref="AwaitServerEndAfterFailAsync"/>).
    /// </summary>
    internal async Task FinishViolationAsync(Stream stream, PendingViolation pending)
    {
        _incoming.EndWhenDrained();
        if (await pending.Outcome.ConfigureAwait(false))
        {
            await AwaitServerEndAfterFailAsync(stream, pending.CloseTicket, pending.ServerEndDeadline!).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Fails the connection for a pending protocol violation, if one is pending and nothing else ended
    /// the connection first: called by the receiving application when it finds the queue drained
    /// (<see cref="ReceiveQueue.EndWhenDrained"/>), by the violation's deadline, and by the closing
    /// handshake. Records the error and queues our Close at once, on the caller's thread, so the
    /// receive call that comes back throws it and the Close follows every frame the application sent
    /// before; the receive loop does the rest.
    /// </summary>
    private void FailPendingViolation()
    {
        PendingViolation? pending = Volatile.Read(ref _violation);
        if (pending is null)
        {
            return;
        }

        // Started before the Close is queued: the wait for the server's end of TCP is bounded from here.
        var serverEndDeadline = new CancellationTokenSource(_closeTimeout, _time);
        ProtocolViolation violation = pending.Violation;
        if (TryBeginFail(violation.CloseStatus, null, violation.ToException(), out long closeTicket))
        {
            // Messages still queued (the deadline passed before the application took them) stay readable.
            _incoming.Complete();
            pending.Decide(closeTicket, serverEndDeadline);
        }
        else
        {
            serverEndDeadline.Dispose();
        }
    }

    /// <summary>
    /// After failing the connection for a protocol violation: RFC 6455 §7.1.1 has the server close the
    /// TCP connection first, so, once our Close is written, this waits for the server's end of the
    /// stream, discarding whatever arrives, bounded by the close timeout (<paramref name="deadline"/>,
    /// disposed here); then the socket is closed.
    /// </summary>
    private async Task AwaitServerEndAfterFailAsync(Stream stream, long closeTicket, CancellationTokenSource deadline)
    {
        using CancellationTokenSource owned = deadline;
        using CancellationTokenRegistration link = AbortToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
        byte[] discard = ArrayPool<byte>.Shared.Rent(1024);
        try
        {
            if (closeTicket != 0)
            {
                await _sender!.WaitWrittenAsync(closeTicket, deadline.Token).ConfigureAwait(false);
            }

            while (await stream.ReadAsync(discard, deadline.Token).ConfigureAwait(false) > 0)
            {
                // RFC 6455 §7.1.7: after failing, no further data is processed.
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or DuplexException or System.Net.Sockets.SocketException)
        {
            if (deadline.IsCancellationRequested && !IsTornDown)
            {
                Log.CloseTimeout(_logger, _closeTimeout);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(discard);
        }

        Teardown(null);
    }
}
