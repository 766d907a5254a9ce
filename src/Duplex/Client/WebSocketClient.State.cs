using Duplex.Connection;
using Duplex.Diagnostics;

namespace Duplex.Client;

public partial class WebSocketClient
{
    // Where the run is: whether sends are accepted, a connect may start, reconnecting goes on. Written,
    // like _state, only by ApplyLocked.
    private ClientPhase _phase = ClientPhase.Idle;

    // Whether the first connect failed an attempt and will try again (RetryFirstConnect); written
    // only by ApplyLocked.
    private bool _retryingFirstConnect;

    private enum ClientPhase
    {
        /// <summary>Never connected, or the first connect failed: a send is a usage error.</summary>
        Idle,

        /// <summary>Connected or reconnecting.</summary>
        Running,

        /// <summary>Stopped reconnecting by itself; a new connect may start.</summary>
        GaveUp,

        /// <summary>The application closed; the close is under way.</summary>
        Closing,

        /// <summary>The application closed (or disposed) the client; a new connect may start.</summary>
        Closed,
    }

    /// <summary>What happened, as told to the one place that moves the state machine.</summary>
    private enum ClientSignal
    {
        /// <summary>ConnectAsync started a run (the caller checked that it may).</summary>
        ConnectRequested,

        /// <summary>The supervisor, or a first connect that retries, starts another attempt.</summary>
        ReconnectAttemptStarted,

        /// <summary>A connection opened and becomes current.</summary>
        ConnectionOpened,

        /// <summary>The current connection ended; the supervisor decides what next.</summary>
        ConnectionEnded,

        /// <summary>The supervisor armed the wait before the next attempt.</summary>
        ReconnectWaitStarted,

        /// <summary>A first connect that retries armed the wait before its next attempt.</summary>
        FirstConnectWaitStarted,

        /// <summary>The reconnect policy, the limits or the end's cause stopped the reconnecting.</summary>
        GaveUp,

        /// <summary>The first connect failed or was cancelled.</summary>
        FirstConnectFailed,

        /// <summary>CloseAsync was called.</summary>
        CloseRequested,

        /// <summary>The close finished.</summary>
        Closed,

        /// <summary>The client was disposed (aborted).</summary>
        Disposed,
    }

    /// <summary>Moves the state machine and raises <see cref="StateChanged"/> when the state changed.</summary>
    /// <returns>Whether the signal applied (a connection that opens while the client closes does not).</returns>
    private bool Signal(ClientSignal signal, WebSocketConnection? connection = null)
    {
        bool applied;
        (WebSocketClientState Previous, WebSocketClientState Current)? change;
        lock (_lock)
        {
            applied = ApplyLocked(signal, connection, out change);
        }

        RaiseStateChanged(change);
        return applied;
    }

    /// <summary>
    /// The state machine: the only place that writes <c>_state</c> and <c>_phase</c>, and the current
    /// connection with them. Called under <c>_lock</c>; the caller raises the change outside it.
    /// </summary>
    private bool ApplyLocked(ClientSignal signal, WebSocketConnection? connection, out (WebSocketClientState Previous, WebSocketClientState Current)? change)
    {
        WebSocketClientState previous = _state;
        WebSocketClientState next = previous;
        bool applied = true;
        switch (signal)
        {
            case ClientSignal.ConnectRequested:
                _phase = ClientPhase.Running;
                _retryingFirstConnect = false;
                next = WebSocketClientState.Connecting;
                break;
            case ClientSignal.ReconnectAttemptStarted when _phase == ClientPhase.Running:
                next = WebSocketClientState.Connecting;
                break;
            case ClientSignal.ConnectionOpened when _phase == ClientPhase.Running:
                _retryingFirstConnect = false;
                _connection = connection;
                _sendDirect = false;
                _directConnection = null;
                next = WebSocketClientState.Open;
                break;
            case ClientSignal.ConnectionEnded:
                // The state stays until the supervisor has decided: Disconnected only once the wait
                // before the next attempt is armed (whoever watches the state may then drive a clock).
                _connection = null;
                _sendDirect = false;
                _directConnection = null;
                break;
            case ClientSignal.ReconnectWaitStarted when _phase == ClientPhase.Running:
                next = WebSocketClientState.Disconnected;
                break;
            case ClientSignal.FirstConnectWaitStarted when _phase == ClientPhase.Running:
                _retryingFirstConnect = true;
                next = WebSocketClientState.Disconnected;
                break;
            case ClientSignal.GaveUp when _phase == ClientPhase.Running:
                _phase = ClientPhase.GaveUp;
                _directConnection = null;
                next = WebSocketClientState.Disconnected;
                break;
            case ClientSignal.FirstConnectFailed when _phase == ClientPhase.Running:
                _phase = ClientPhase.Idle;
                _retryingFirstConnect = false;
                next = WebSocketClientState.Closed;
                break;
            case ClientSignal.CloseRequested:
                _directConnection = null;
                if (_phase == ClientPhase.Running)
                {
                    _phase = ClientPhase.Closing;
                    next = WebSocketClientState.Closing;
                }
                else if (_phase != ClientPhase.Closing)
                {
                    // Nothing to close (never connected, or given up): closed at once, whatever came before.
                    _phase = ClientPhase.Closed;
                    next = WebSocketClientState.Closed;
                }

                break;
            case ClientSignal.Closed when _phase == ClientPhase.Closing:
                _phase = ClientPhase.Closed;
                next = WebSocketClientState.Closed;
                break;
            case ClientSignal.Disposed:
                _phase = ClientPhase.Closed;
                _directConnection = null;
                next = WebSocketClientState.Closed;
                break;
            default:
                // A signal that no longer applies (the client closed meanwhile).
                applied = false;
                break;
        }

        _state = next;
        change = next == previous ? null : (previous, next);
        return applied;
    }

    private void RaiseStateChanged((WebSocketClientState Previous, WebSocketClientState Current)? change)
    {
        if (change is not { } c)
        {
            return;
        }

        try
        {
            StateChanged?.Invoke(this, new WebSocketClientStateChangedEventArgs(c.Previous, c.Current));
        }
#pragma warning disable CA1031 // A subscriber's exception must never break the state machine.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            Log.HandlerFailed(Logger, "StateChanged", ex);
            WriteUnobservedHandlerError("StateChanged", ex);
        }
    }
}
