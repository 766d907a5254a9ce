using Duplex.Protocol;

namespace Duplex.Connection;

/// <summary>
/// A protocol violation the receive loop has found, held until the connection is failed for it. The
/// loop reads nothing after the violating frame (RFC 6455 §7.1.7: no further data is processed), but
/// messages that arrived whole before it are the application's, and so is the chance to answer them:
/// the connection fails once the application comes back for more after the last of them, or once the
/// close timeout has passed, whichever comes first. Exists only after a peer broke the protocol.
/// </summary>
/// <remarks>
/// Thread safety: <see cref="Decide"/>, <see cref="Abandon"/> and the deadline's timer may race; the
/// first decision stands.
/// </remarks>
internal sealed class PendingViolation(ProtocolViolation violation)
{
    private readonly TaskCompletionSource<long> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _deadline;
    private bool _done;

    /// <summary>What the peer did wrong, with the close code to send.</summary>
    public ProtocolViolation Violation { get; } = violation;

    /// <summary>
    /// Completes once decided: with the ticket of our Close frame when the connection was failed for
    /// the violation (0 when no Close could be queued), or with -1 when it ended some other way.
    /// </summary>
    public Task<long> Outcome => _outcome.Task;

    /// <summary>Keeps the timer that bounds the wait; disposed once decided (at once if that already happened).</summary>
    public void SetDeadline(ITimer deadline)
    {
        lock (this)
        {
            if (!_done)
            {
                _deadline = deadline;
                return;
            }
        }

        deadline.Dispose();
    }

    /// <summary>The connection was failed for the violation; its Close frame has <paramref name="closeTicket"/>.</summary>
    public void Decide(long closeTicket) => Finish(closeTicket);

    /// <summary>The connection ended some other way (aborted, failed for something else) before it was failed for the violation.</summary>
    public void Abandon() => Finish(-1);

    private void Finish(long result)
    {
        ITimer? deadline;
        lock (this)
        {
            if (_done)
            {
                return;
            }

            _done = true;
            deadline = _deadline;
            _deadline = null;
        }

        deadline?.Dispose();
        _outcome.TrySetResult(result);
    }
}
