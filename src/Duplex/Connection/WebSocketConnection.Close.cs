using System.Buffers;
using System.Net.WebSockets;
using Duplex.Diagnostics;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    private TaskCompletionSource? _closeCompletion;

    /// <summary>Closes with status 1000 (normal closure); see <see cref="CloseAsync(WebSocketCloseStatus, string?, CancellationToken)"/>.</summary>
    /// <param name="cancellationToken">Stops waiting for the closing handshake.</param>
    public Task CloseAsync(CancellationToken cancellationToken) =>
        CloseAsync(WebSocketCloseStatus.NormalClosure, statusDescription: null, cancellationToken);

    /// <summary>
    /// Runs the closing handshake (RFC 6455 §7.1.2): sends a Close frame with the status and reason,
    /// waits for the peer's Close and for the server to end the TCP connection, all within the close
    /// timeout, after which the socket is closed regardless. The Close frame is queued before this
    /// method returns, so no message sent afterwards can overtake it. Messages that arrive meanwhile
    /// stay readable. Idempotent: later calls wait for the same close.
    /// </summary>
    /// <param name="closeStatus">1000–1003, 1007–1014 or 3000–4999.</param>
    /// <param name="statusDescription">A reason of at most 123 UTF-8 bytes.</param>
    /// <param name="cancellationToken">Stops waiting; the close goes on in the background.</param>
    public Task CloseAsync(WebSocketCloseStatus closeStatus = WebSocketCloseStatus.NormalClosure, string? statusDescription = null, CancellationToken cancellationToken = default)
    {
        CloseStatusRules.ValidateOutgoing(closeStatus, statusDescription, nameof(closeStatus), nameof(statusDescription));
        TaskCompletionSource? mine = null;
        Task close;
        lock (_stateLock)
        {
            if (_state == WebSocketConnectionState.Connecting)
            {
                throw new InvalidOperationException("The connection is not open yet.");
            }

            if (_closeCompletion is null)
            {
                _closeCompletion = mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            close = _closeCompletion.Task;
        }

        if (mine is not null)
        {
            // Started outside the state lock: queueing the Close may start the writer on this thread.
            _ = RunCloseAsync(mine, closeStatus, statusDescription);
        }

        return cancellationToken.CanBeCanceled ? close.WaitAsync(cancellationToken) : close;
    }

    private async Task RunCloseAsync(TaskCompletionSource completion, WebSocketCloseStatus closeStatus, string? statusDescription)
    {
        using var deadline = new CancellationTokenSource(_closeTimeout, _time);

        // RFC 6455 §7.1.7: a protocol violation still pending fails the connection now, with its code.
        FailPendingViolation();

        // The peer's Close comes after any frame a receive call is reading: the loop reads again.
        TakeFrameBack();
        try
        {
            if (TryQueueClose(closeStatus, statusDescription) is var ticket and not 0)
            {
                await _sender!.WaitWrittenAsync(ticket, deadline.Token).ConfigureAwait(false);
            }

            // The receive loop finishes the handshake: it reads the peer's Close and waits for the
            // server to end the TCP connection.
            await _receiveLoop.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Log.CloseTimeout(_logger, _closeTimeout);
        }
        catch (DuplexException)
        {
            // Already failed or closed by the peer; nothing more to say.
        }
        finally
        {
            Teardown(null);

            // The receive loop may be the one finishing the teardown: the close is done when it is.
            await Completion.ConfigureAwait(false);
            completion.TrySetResult();
        }
    }

    /// <summary>RFC 6455 §5.5.1 and §7.1.1: the peer's Close arrived (the receive loop's call, after queueing everything before it).</summary>
    internal async Task OnCloseFrameAsync(Stream stream, WebSocketCloseStatus? status, string? reason)
    {
        WebSocketCloseStatus? answer;
        lock (_stateLock)
        {
            answer = (_closing ??= new CloseHandshake()).OnRemoteClose(status, reason);
            if (_state == WebSocketConnectionState.Open)
            {
                _state = WebSocketConnectionState.Closing;
            }
        }

        using var deadline = new CancellationTokenSource(_closeTimeout, _time);
        using CancellationTokenRegistration link = AbortToken.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
        try
        {
            // RFC 6455 §5.5.1: answer with a Close, echoing the status code received (an empty
            // Close when none was), unless ours is already on its way.
            if (TryQueueClose(answer, null) is var ticket and not 0)
            {
                await _sender!.WaitWrittenAsync(ticket, deadline.Token).ConfigureAwait(false);
            }

            // Both Close frames have been exchanged: the application may learn of the close now,
            // without waiting for the TCP connection to end.
            _incoming.Complete();

            // RFC 6455 §7.1.1: the server closes the TCP connection first; wait for that (bounded).
            byte[] discard = ArrayPool<byte>.Shared.Rent(1024);
            try
            {
                while (await stream.ReadAsync(discard, deadline.Token).ConfigureAwait(false) > 0)
                {
                    // Nothing may follow a Close frame; whatever does is discarded.
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(discard);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or DuplexException or System.Net.Sockets.SocketException)
        {
            if (deadline.IsCancellationRequested && !IsTornDown)
            {
                Log.CloseTimeout(_logger, _closeTimeout);
            }
        }

        Teardown(null);
    }
}
