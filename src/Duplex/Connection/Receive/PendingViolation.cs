using Duplex.Protocol;

namespace Duplex.Connection.Receive;

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
    private readonly TaskCompletionSource<bool> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ITimer? _deadline;
    private bool _done;

    /// <summary>What the peer did wrong, with the close code to send.</summary>
    public ProtocolViolation Violation { get; } = violation;

    /// <summary>
    /// Completes once decided: <see langword="true"/> when the connection was failed for the violation
    /// (see <see cref="CloseTicket"/> and <see cref="ServerEndDeadline"/>), <see langword="false"/>
    /// when it ended some other way.
    /// </summary>
    public Task<bool> Outcome => _outcome.Task;

    /// <summary>The ticket of our Close frame (0 when none could be queued); set when failed for the violation.</summary>
    public long CloseTicket { get; private set; }

    /// <summary>
    /// Bounds the wait for the server to end TCP after our Close; started when the Close was queued, so
    /// the bound runs from the failure itself. Owned by whoever awaits <see cref="Outcome"/>.
    /// </summary>
    public CancellationTokenSource? ServerEndDeadline { get; private set; }

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
    public void Decide(long closeTicket, CancellationTokenSource serverEndDeadline)
    {
        if (!Finish())
        {
            serverEndDeadline.Dispose();
            return;
        }

        CloseTicket = closeTicket;
        ServerEndDeadline = serverEndDeadline;
        _outcome.TrySetResult(true);
    }

    /// <summary>The connection ended some other way (aborted, failed for something else) before it was failed for the violation.</summary>
    public void Abandon()
    {
        if (Finish())
        {
            _outcome.TrySetResult(false);
        }
    }

    private bool Finish()
    {
        ITimer? deadline;
        lock (this)
        {
            if (_done)
            {
                return false;
            }

            _done = true;
            deadline = _deadline;
            _deadline = null;
        }

        deadline?.Dispose();
        return true;
    }
}
