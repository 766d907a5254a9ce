using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Duplex.Connection.Send;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    /// <summary>
    /// Sends a text message. Completes as soon as the frame is in the connection's write buffer
    /// (it waits only while more than <see cref="WebSocketConnectionOptions.SendBufferLimit"/> bytes
    /// are waiting for the network); frames go out in order, and whatever was buffered when the
    /// connection fails is reported by <see cref="TakeUnsentMessages"/>. <see cref="FlushAsync"/>
    /// waits until everything sent so far has been written.
    /// </summary>
    /// <param name="text">The message text.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="WebSocketClosedException">The connection is closed or failed.</exception>
    public ValueTask SendTextAsync(string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Sender.SendTextAsync(text, cancellationToken);
    }

    /// <summary>Sends a binary message; completes as soon as the frame is buffered (see <see cref="SendTextAsync"/>).</summary>
    /// <param name="data">The message bytes; not used after the returned task completes.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="WebSocketClosedException">The connection is closed or failed.</exception>
    public ValueTask SendBinaryAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        Sender.SendBytesAsync(Opcode.Binary, data, cancellationToken);

    /// <summary>
    /// Sends a whole message of the given type. Text must be valid UTF-8 (RFC 6455 §5.6).
    /// </summary>
    /// <param name="data">The payload.</param>
    /// <param name="messageType">Text or Binary.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException">Text that is not valid UTF-8, or the Close type.</exception>
    /// <exception cref="WebSocketClosedException">The connection is closed or failed.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, WebSocketMessageType messageType, CancellationToken cancellationToken = default)
    {
        Opcode opcode = ToOpcode(messageType, nameof(messageType));
        if (opcode == Opcode.Text && !System.Text.Unicode.Utf8.IsValid(data.Span))
        {
            throw new ArgumentException("A text message must be valid UTF-8.", nameof(data));
        }

        return Sender.SendBytesAsync(opcode, data, cancellationToken);
    }

    /// <summary>
    /// Starts a message sent in several frames (RFC 6455 §5.4), for payloads produced piece by piece.
    /// Until the writer completes, other messages wait (control frames do not); dispose it to finish.
    /// </summary>
    /// <param name="messageType">Text or Binary.</param>
    /// <param name="cancellationToken">Cancels the wait for other messages to finish.</param>
    /// <returns>A writer that owns the message stream until completed or disposed.</returns>
    public async ValueTask<WebSocketMessageWriter> CreateMessageWriterAsync(WebSocketMessageType messageType, CancellationToken cancellationToken = default)
    {
        Opcode opcode = ToOpcode(messageType, nameof(messageType));
        FrameSender sender = Sender;
        await sender.AcquireMessageLockAsync(cancellationToken).ConfigureAwait(false);
        return new WebSocketMessageWriter(this, sender, opcode);
    }

    /// <summary>Completes when every frame sent so far has been written to the network.</summary>
    /// <param name="cancellationToken">Stops waiting; the frames are still written.</param>
    /// <exception cref="WebSocketClosedException">The connection failed before they were written.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => Sender.FlushAsync(cancellationToken);

    /// <summary>
    /// After the connection ended: the whole messages that sends accepted into the write buffer but
    /// that never reached the network, oldest first, as they were sent (unmasked). Frames of a
    /// message sent in pieces with a <see cref="WebSocketMessageWriter"/> are not included. A message
    /// whose write was interrupted part-way is included, so in that rare case the peer may have seen
    /// the start of it. Returns an empty list while the connection is open, and the messages only once.
    /// </summary>
    public IReadOnlyList<WebSocketMessage> TakeUnsentMessages()
    {
        List<UnsentMessage> unsent = TakeUnsentPayloads();
        var messages = new List<WebSocketMessage>(unsent.Count);
        foreach (UnsentMessage message in unsent)
        {
            messages.Add(message.MessageType == WebSocketMessageType.Text
                ? WebSocketMessage.FromText(Encoding.UTF8.GetString(message.Payload))
                : WebSocketMessage.FromBinary(message.Payload));
        }

        return messages;
    }

    /// <summary>
    /// <see cref="TakeUnsentMessages"/> as the bytes that were sent (UTF-8 for text), for a client
    /// that sends them again on its next connection without encoding them a second time.
    /// </summary>
    internal List<UnsentMessage> TakeUnsentPayloads() => Volatile.Read(ref _sender)?.TakeUnsentMessages() ?? [];

    /// <summary>Whether the send buffer holds any pooled array, for tests.</summary>
    internal bool HoldsSendBuffers => Volatile.Read(ref _sender)?.HoldsBuffers == true;

    /// <summary>
    /// What the send buffer holds for frames not yet written (the frames, and the uncompressed copies of compressed
    /// messages): what <see cref="WebSocketConnectionOptions.SendBufferLimit"/> bounds; for tests and diagnostics.
    /// </summary>
    internal long HeldSendBytes => Volatile.Read(ref _sender)?.HeldBytes ?? 0;

    internal static Opcode ToOpcode(WebSocketMessageType messageType, string parameterName) => messageType switch
    {
        WebSocketMessageType.Text => Opcode.Text,
        WebSocketMessageType.Binary => Opcode.Binary,
        _ => throw new ArgumentOutOfRangeException(parameterName, messageType, "Only Text and Binary messages can be sent; use CloseAsync to close."),
    };

    /// <summary>The write path, once the connection is open.</summary>
    private FrameSender Sender => Volatile.Read(ref _sender) ?? throw NotOpenForSending();

    private Exception NotOpenForSending() => IsTornDown
        ? ClosedForSending(null)
        : new InvalidOperationException("The connection is not open yet.");

    /// <summary>
    /// Queues our Close frame unless one was already (RFC 6455 §5.5.1: one Close per side); a null
    /// status sends an empty Close, the answer to a Close that carried no status code. Returns the
    /// frame's ticket, or 0 when none was queued.
    /// </summary>
    private long TryQueueClose(WebSocketCloseStatus? status, string? reason)
    {
        byte[] payload = [];
        if (status is { } code)
        {
            Span<byte> buffer = stackalloc byte[FrameHeader.MaxControlPayload];
            payload = buffer.Slice(0, CloseStatusRules.Write(buffer, code, reason)).ToArray();
        }

        FrameSender? sender;
        lock (_stateLock)
        {
            sender = _sender;
            _closing ??= new CloseHandshake();

            // Recorded before the frame can reach the network: a peer that reacts to our Close at once
            // must find the connection closing with our status, or the receive loop would take the end
            // of TCP that follows for a lost connection.
            if (sender is null || !_closing.TryStartLocal(status, reason))
            {
                return 0;
            }

            if (_state == WebSocketConnectionState.Open)
            {
                _state = WebSocketConnectionState.Closing;
            }
        }

        long ticket = sender.SendClose(payload);
        if (ticket == 0)
        {
            // The connection had ended: no Close went out.
            lock (_stateLock)
            {
                _closing.ForgetLocal();
            }
        }

        return ticket;
    }
}
