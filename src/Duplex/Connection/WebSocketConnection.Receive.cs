using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using Duplex.Connection.Receive;
using Duplex.Diagnostics;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    // The receive side (Connection/Receive): the queue between the loop and the application, the
    // loop that reads the socket, and the application's reader, created with the first receive call.
    private readonly ReceiveQueue _incoming;
    private readonly FrameReceiver _receiver;
    private MessageReader? _reader;

    /// <summary>Whether reading the socket waits for the application (the queue is full, a large frame waits half read, or a protocol violation waits for the messages before it to be taken); keepalive and the silence limit do not count that time against the peer.</summary>
    internal bool ReceivePaused => _receiver.WaitingForApplication || Volatile.Read(ref _violation) is not null;

    /// <summary>How many times bytes arrived from the peer so far; a send tells by it whether it answers something that came.</summary>
    internal long ReadsSoFar => _receiver.Reads;

    /// <summary>The thread the connection is read on with <see cref="WebSocketConnectionOptions.DedicatedReceiveThread"/>; null when it is read through the socket engine.</summary>
    internal ReceiveThread? ReceiveThread => _receiver.Thread;

    /// <summary>When bytes last arrived from the peer, as a <see cref="TimeProvider.GetTimestamp"/> value; the moment the connection opened before that.</summary>
    internal long LastReceivedTimestamp => _receiver.LastReceivedTimestamp;

    /// <summary>The room a waiting <see cref="ReceiveAsync"/> call offers for a large frame (0 when none waits with room); for tests.</summary>
    internal int WaitingReceiveRoom => _incoming.WaitingReaderRoom;

    private MessageReader Reader
    {
        get
        {
            MessageReader? existing = Volatile.Read(ref _reader);
            return existing ?? Interlocked.CompareExchange(ref _reader, new MessageReader(_incoming, _inflater), null) ?? _reader!;
        }
    }

    /// <summary>
    /// Receives the next whole message: text as a string, binary as bytes. After the peer closed
    /// cleanly, returns a message of type Close (every time it is called).
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the connection stays open and no data is lost.</param>
    /// <exception cref="WebSocketProtocolException">The peer broke the protocol (the close code sent is in the exception).</exception>
    /// <exception cref="WebSocketClosedException">The connection was lost or failed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<WebSocketMessage> ReceiveMessageAsync(CancellationToken cancellationToken = default)
    {
        MessageReader reader = Reader;
        reader.Enter();
        try
        {
            WebSocketMessage message;
            while (!reader.TryTakeMessage(out message))
            {
                if (!await NextBatchAsync(reader, cancellationToken).ConfigureAwait(false))
                {
                    return WebSocketMessage.FromClose(RemoteCloseStatus, RemoteCloseStatusDescription);
                }
            }

            return message;
        }
        finally
        {
            reader.Exit();
        }
    }

    /// <summary>
    /// For a consumer that waits with <see cref="WaitForMessagesAsync"/> (the client's message pump,
    /// which so holds no receive state while the connection is idle): the next whole message if the
    /// queue holds all of it now; false when it has to wait.
    /// </summary>
    internal bool TryReceiveMessage(out WebSocketMessage message)
    {
        MessageReader reader = Reader;
        reader.Enter();
        try
        {
            return reader.TryTakeMessage(out message);
        }
        finally
        {
            reader.Exit();
        }
    }

    /// <summary>
    /// Completes when <see cref="TryReceiveMessage"/> may find more (true), or when the queue has ended
    /// (false: <see cref="MessageAfterEnd"/> tells how). Holds no state machine while it waits.
    /// </summary>
    internal ValueTask<bool> WaitForMessagesAsync()
    {
        if (_incoming.FramesOffered)
        {
            // A whole-message consumer never reads a frame itself: the loop reads it into the queue.
            TakeFrameBack();
        }

        return _incoming.WaitToReadAsync(CancellationToken.None);
    }

    /// <summary>What <see cref="ReceiveMessageAsync"/> gives once the queue has ended: a Close message, or the error.</summary>
    internal WebSocketMessage MessageAfterEnd()
    {
        FailPendingViolation();
        ThrowIfEndedAbnormally();
        return WebSocketMessage.FromClose(RemoteCloseStatus, RemoteCloseStatusDescription);
    }

    /// <summary>
    /// Receives the next piece of a message into <paramref name="buffer"/>, for messages too large to
    /// hold at once. <see cref="ValueWebSocketReceiveResult.EndOfMessage"/> marks a message's last
    /// piece. After the peer closed cleanly, returns a result of type Close with count 0. Over a plain
    /// <c>ws://</c> socket, a call with at least 8 KiB of room that waits while a large frame arrives
    /// reads that frame's payload straight into <paramref name="buffer"/> as it comes; the connection
    /// then reads no further until this frame is read on (or handed back by
    /// <see cref="ReceiveMessageAsync"/>, a smaller buffer, <see cref="PingAsync"/> or <see cref="CloseAsync(WebSocketCloseStatus, string?, CancellationToken)"/>).
    /// A compressed frame (permessage-deflate) is never read that way: it is inflated into
    /// <paramref name="buffer"/> from the receive queue, and a call may then return a count of 0 before
    /// the end of the message while what arrived so far inflates to nothing yet.
    /// </summary>
    /// <param name="buffer">Where to copy the data.</param>
    /// <param name="cancellationToken">Cancels the wait; the connection stays open and no data is lost.</param>
    /// <exception cref="WebSocketProtocolException">The peer broke the protocol.</exception>
    /// <exception cref="WebSocketClosedException">The connection was lost or failed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        MessageReader reader = Reader;
        reader.Enter();
        try
        {
            while (!reader.HasPiece)
            {
                if (!await NextBatchAsync(reader, cancellationToken, buffer.Length).ConfigureAwait(false))
                {
                    return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, endOfMessage: true);
                }

                if (!reader.HasPiece && _receiver.HandOver is { } handOver
                    && await handOver.ReceiveAsync(_stream!, buffer, cancellationToken).ConfigureAwait(false) is { } direct)
                {
                    return direct;
                }
            }

            return reader.CopyPiece(buffer);
        }
        finally
        {
            reader.Exit();
        }
    }

    /// <summary>
    /// Makes the next queued batch current; false when the connection ended cleanly. With
    /// <paramref name="room"/> for at least <see cref="FrameReceiver.DirectReadThreshold"/> bytes, it may
    /// also return true with no current batch: the receive loop offers the rest of a large frame to be
    /// read straight into the caller's buffer (see <see cref="FrameHandOver"/>); with less room, an
    /// offered frame is handed back to the loop.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> NextBatchAsync(MessageReader reader, CancellationToken cancellationToken, int room = 0)
    {
        if (room < FrameReceiver.DirectReadThreshold)
        {
            room = 0;
        }

        while (true)
        {
            if (reader.TryTakeQueuedBatch())
            {
                return true;
            }

            if (_incoming.FramesOffered)
            {
                if (room > 0)
                {
                    return true;
                }

                TakeFrameBack();
            }

            if (!await _incoming.WaitToReadAsync(cancellationToken, room).ConfigureAwait(false))
            {
                FailPendingViolation();
                ThrowIfEndedAbnormally();
                return false;
            }
        }
    }

    /// <summary>Asks for the socket back for the receive loop, if it waits in a large frame for a receive call.</summary>
    private void TakeFrameBack() => _receiver.HandOver?.TakeBack();

    /// <summary>
    /// Whether the receive loop must go on reading rather than leave a large frame to a receive call:
    /// the connection is ending or closing, or a caller waits for a Pong that can only come after it.
    /// </summary>
    internal bool NeedsTheSocketRead =>
        IsTornDown || Volatile.Read(ref _closeCompletion) is not null || Volatile.Read(ref _pings)?.AnyCallerWaiting() == true;

    private void ThrowIfEndedAbnormally()
    {
        Exception? error = CloseError;
        switch (error)
        {
            case null:
                return;
            case WebSocketProtocolException protocol:
                throw new WebSocketProtocolException(protocol.CloseStatus, protocol.Message);
            case WebSocketClosedException closed:
                throw new WebSocketClosedException(closed.Message, closed.CloseStatus, closed.CloseDescription, closed.ClosedByPeer, closed.InnerException);
            default:
                throw LostConnection(error);
        }
    }

    /// <summary>A Ping or a Pong arrived (the receive loop's call).</summary>
    internal void OnControlFrame(Opcode opcode, ReadOnlySpan<byte> payload)
    {
        if (opcode == Opcode.Ping)
        {
            // RFC 6455 §5.5.3: a Pong "MUST have identical Application data" to the Ping it answers.
            Log.PingReceived(_logger, payload.Length);
            _sender!.SendPong(payload);
        }
        else
        {
            // RFC 6455 §5.5.3: an unsolicited Pong is allowed and needs no answer.
            Volatile.Read(ref _pings)?.OnPong(payload, _time.GetTimestamp(), _time);
            Volatile.Read(ref _liveness)?.OnPong();
        }
    }

    /// <summary>The peer ended the TCP connection (the receive loop's call).</summary>
    internal void OnEndOfStream()
    {
        bool clean;
        lock (_stateLock)
        {
            clean = _closing?.EndOfStreamIsClean == true;
        }

        Teardown(clean ? null : LostConnection(null));
    }

    /// <summary>A read failed (the receive loop's call).</summary>
    internal void OnReadFailed(Exception ex)
    {
        bool expected;
        lock (_stateLock)
        {
            expected = _tornDown || _closing?.LocalStarted == true;
        }

        Teardown(expected ? null : LostConnection(ex));
    }

    /// <summary>The receive loop met something it did not expect: whatever it was ends the connection, never unobserved.</summary>
    internal void OnReceiveFailed(Exception error) => Teardown(LostConnection(error));
}
