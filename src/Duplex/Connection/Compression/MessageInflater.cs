using System.Buffers;
using System.IO.Compression;
using System.Net.WebSockets;
using System.Text;
using Duplex.Protocol;

namespace Duplex.Connection.Compression;

/// <summary>
/// The receive side of permessage-deflate (RFC 7692 §7.2.2) over <see cref="DeflateStream"/>: inflates
/// the pieces of a compressed message in order, appending <c>00 00 FF FF</c> at its end, on the
/// application's receive call (so what waits in the receive queue is the compressed bytes, and a
/// slow reader holds no inflated data). The inflated size counts against the maximum message size
/// as it grows, text is validated as UTF-8 as it comes out, and corrupt data ends the connection
/// with 1007. The zlib state is created with the first compressed message and, when the server
/// agreed to no context takeover, released after each message.
/// </summary>
/// <remarks>Used by one receive call at a time, like the reader that owns it.</remarks>
internal sealed class MessageInflater
{
    // Whole messages are inflated in steps of this size, so a bomb is stopped within one step of the limit.
    private const int Step = 16 * 1024;

    private readonly long _maxMessageSize;
    private readonly bool _noContextTakeover;
    private readonly Func<ProtocolViolation, Exception> _fail;
    private readonly InflateInput _input = new();
    private DeflateStream? _inflate;

    // The message being inflated: its size so far, its UTF-8 state, and for whole messages the bytes.
    private long _inflated;
    private bool _tailStarted;
    private Utf8Validator _utf8;
    private byte[]? _message;
    private int _messageLength;

    /// <param name="maxMessageSize">The largest inflated message accepted; more fails with 1009.</param>
    /// <param name="noContextTakeover">Whether the server compresses each message on its own (its state can go after each message).</param>
    /// <param name="fail">Fails the connection for a violation and returns the exception to throw.</param>
    public MessageInflater(long maxMessageSize, bool noContextTakeover, Func<ProtocolViolation, Exception> fail)
    {
        _maxMessageSize = maxMessageSize;
        _noContextTakeover = noContextTakeover;
        _fail = fail;
    }

    /// <summary>Whether the zlib state is allocated (for tests and the memory figures).</summary>
    public bool HoldsState => _inflate is not null;

    /// <summary>
    /// Inflates as much of the compressed <paramref name="piece"/> (from <paramref name="offset"/>) as fits
    /// into <paramref name="destination"/>. <paramref name="consumed"/> is how much of the piece the
    /// inflater took; <paramref name="pieceDone"/> says that the piece is used up and everything it held
    /// is out (at the end of the message: the message is complete).
    /// </summary>
    /// <exception cref="WebSocketProtocolException">Corrupt data (1007), invalid UTF-8 (1007) or a message over the limit (1009); the connection is failing.</exception>
    public int Inflate(byte[] piece, int offset, int count, bool endOfMessage, WebSocketMessageType type, Span<byte> destination, out int consumed, out bool pieceDone)
    {
        _input.Set(piece, offset, count);
        if (endOfMessage && !_tailStarted)
        {
            _input.StartTail();
            _tailStarted = true;
        }

        DeflateStream inflate = _inflate ??= new DeflateStream(_input, CompressionMode.Decompress, leaveOpen: true);
        int written = 0;
        pieceDone = false;
        try
        {
            while (written < destination.Length)
            {
                int read = inflate.Read(destination.Slice(written));
                if (read == 0)
                {
                    if (!_input.Exhausted)
                    {
                        // The sender ended its DEFLATE stream with a final block (RFC 7692 §7.2.3.4): what
                        // follows in this message is ignored, and the next message starts a new stream.
                        DropState();
                    }

                    pieceDone = true;
                    break;
                }

                written += read;
                _inflated += read;
                if (_inflated > _maxMessageSize)
                {
                    throw Fail(ProtocolViolation.TooBig($"A compressed message inflated past the maximum message size of {_maxMessageSize} bytes."));
                }
            }
        }
        catch (InvalidDataException)
        {
            // RFC 7692 §8: data that does not inflate fails the connection; 1007, the payload is not
            // consistent with the message.
            throw Fail(ProtocolViolation.InvalidData("A compressed message could not be inflated."));
        }
        finally
        {
            consumed = _input.Consumed;
            _input.Clear();
        }

        bool messageDone = pieceDone && endOfMessage;
        if (type == WebSocketMessageType.Text && !_utf8.Append(destination.Slice(0, written), messageDone))
        {
            throw Fail(ProtocolViolation.InvalidData("A text message is not valid UTF-8."));
        }

        if (messageDone)
        {
            EndMessage();
        }

        return written;
    }

    /// <summary>Inflates the whole compressed piece into the message being assembled (for whole-message receives).</summary>
    public void AppendWhole(byte[] piece, int offset, int count, bool endOfMessage, WebSocketMessageType type)
    {
        while (true)
        {
            if (_message is null || _message.Length - _messageLength < Step)
            {
                // Doubling, but never much past the limit: a bomb fails before the buffer outgrows it.
                long wanted = Math.Max(Step * 2, _message is null ? 0 : (long)_message.Length * 2);
                long cap = Math.Max(_messageLength + (long)Step, Math.Min(_maxMessageSize + Step, Array.MaxLength));
                byte[] bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(wanted, cap));
                if (_message is not null)
                {
                    _message.AsSpan(0, _messageLength).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(_message);
                }

                _message = bigger;
            }

            // At most one step per call, so the limit is checked at least every 16 KiB inflated.
            _messageLength += Inflate(piece, offset, count, endOfMessage, type, _message.AsSpan(_messageLength, Step), out int consumed, out bool pieceDone);
            offset += consumed;
            count -= consumed;
            if (pieceDone)
            {
                return;
            }
        }
    }

    /// <summary>The message <see cref="AppendWhole"/> completed, as text or bytes; its buffer goes back to the pool.</summary>
    public WebSocketMessage TakeMessage(WebSocketMessageType type)
    {
        byte[] message = _message!;
        int length = _messageLength;
        _message = null;
        _messageLength = 0;
        try
        {
            ReadOnlySpan<byte> payload = message.AsSpan(0, length);
            return type == WebSocketMessageType.Text
                ? WebSocketMessage.FromText(payload.IsEmpty ? string.Empty : Encoding.UTF8.GetString(payload))
                : WebSocketMessage.FromBinary(payload.IsEmpty ? Array.Empty<byte>() : payload.ToArray());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(message);
        }
    }

    /// <summary>Gives back what a message in progress holds (the connection ended).</summary>
    public void Release()
    {
        if (_message is not null)
        {
            ArrayPool<byte>.Shared.Return(_message);
            _message = null;
            _messageLength = 0;
        }

        DropState();
    }

    private void EndMessage()
    {
        _inflated = 0;
        _tailStarted = false;
        _input.ResetTail();
        _utf8.Reset();
        if (_noContextTakeover)
        {
            // RFC 7692 §7.1.1.1: the server's next message uses no earlier window, so none is kept.
            DropState();
        }
    }

    private void DropState()
    {
        _inflate?.Dispose();
        _inflate = null;
    }

    private Exception Fail(ProtocolViolation violation)
    {
        _inflated = 0;
        _tailStarted = false;
        _input.ResetTail();
        if (_message is not null)
        {
            ArrayPool<byte>.Shared.Return(_message);
            _message = null;
            _messageLength = 0;
        }

        _utf8.Reset();
        DropState();
        return _fail(violation);
    }
}
