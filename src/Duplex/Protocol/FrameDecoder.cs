using System.Buffers;
using System.Net.WebSockets;

namespace Duplex.Protocol;

/// <summary>What <see cref="FrameDecoder.Decode"/> found.</summary>
internal enum DecodeStatus
{
    /// <summary>All input was consumed; feed more bytes.</summary>
    NeedMoreData,

    /// <summary>A piece of a data message, see <see cref="DecodedFrame.Offset"/> and <see cref="DecodedFrame.Count"/>.</summary>
    Data,

    /// <summary>A whole control frame; its payload is <see cref="FrameDecoder.ControlPayload"/>.</summary>
    Control,

    /// <summary>The peer broke the protocol; see <see cref="FrameDecoder.Violation"/>. Stop decoding.</summary>
    Violation,
}

/// <summary>One item decoded from the input.</summary>
/// <param name="Opcode">Text or Binary for data (the message's type, also on continuation frames); Close, Ping or Pong for control.</param>
/// <param name="Offset">For data: where the payload piece starts in the input passed to this call.</param>
/// <param name="Count">For data: the payload piece's length (it may be 0 for an empty final frame).</param>
/// <param name="EndOfMessage">For data: this piece ends the message.</param>
internal readonly record struct DecodedFrame(Opcode Opcode, int Offset, int Count, bool EndOfMessage);

/// <summary>
/// The receive side of RFC 6455 for a client, from bytes alone: parses frame headers, enforces the
/// framing rules (§5.2–§5.5), tracks fragmented messages with control frames interleaved (§5.4),
/// validates text as UTF-8 as it streams in (§8.1), enforces the message size limit, and checks
/// Close payloads (§5.5.1). Input may be split anywhere. Data payload is not copied: the caller gets
/// its position in the input. One instance per connection; not thread-safe.
/// </summary>
internal sealed class FrameDecoder
{
    private readonly long _maxMessageSize;
    private HeaderBytes _header;
    private byte[]? _control; // created with the first control frame that carries a payload
    private int _headerCount;

    private bool _inFrame;
    private FrameHeader _frame;
    private long _frameRemaining;
    private int _controlCount;

    private bool _inMessage;
    private Opcode _messageOpcode;
    private long _messageLength;
    private Utf8Validator _utf8;

    /// <param name="maxMessageSize">The largest message accepted, in bytes; larger ones fail with 1009.</param>
    /// <param name="allowRsv1">Whether a negotiated extension (permessage-deflate) gives RSV1 a meaning.</param>
    public FrameDecoder(long maxMessageSize, bool allowRsv1 = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxMessageSize);
        _maxMessageSize = maxMessageSize;
        AllowRsv1 = allowRsv1;
    }

    /// <summary>Whether RSV1 may be set on the first frame of a data message (set once permessage-deflate is agreed, before decoding starts).</summary>
    public bool AllowRsv1 { get; set; }

    /// <summary>The violation after <see cref="DecodeStatus.Violation"/>.</summary>
    public ProtocolViolation Violation { get; private set; }

    /// <summary>The payload of the control frame after <see cref="DecodeStatus.Control"/>.</summary>
    public ReadOnlySpan<byte> ControlPayload => _control is null ? default : _control.AsSpan(0, _controlCount);

    /// <summary>For a Close frame: its status code, or null when it had none (1005).</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    /// <summary>For a Close frame: its reason.</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Whether the RSV1 bit was set on the first frame of the current data message.</summary>
    public bool MessageCompressed { get; private set; }

    /// <summary>Whether a fragmented data message is in progress.</summary>
    public bool InMessage => _inMessage;

    /// <summary>Whether decoding is in the middle of a frame (header or payload).</summary>
    public bool InFrame => _inFrame || _headerCount != 0;

    /// <summary>Text or Binary: the type of the message whose frames are being decoded.</summary>
    public Opcode MessageOpcode => _messageOpcode;

    /// <summary>
    /// Payload bytes still to come in the current data frame (0 outside one). A caller may read that
    /// many bytes straight into their destination and pass them to <see cref="Decode"/> there.
    /// </summary>
    public long DataFrameRemaining => _inFrame && !OpcodeRules.IsControl(_frame.Opcode) ? _frameRemaining : 0;

    /// <summary>
    /// Decodes the next item from <paramref name="input"/>. <paramref name="consumed"/> is how many
    /// input bytes this call used; call again with the rest.
    /// </summary>
    public DecodeStatus Decode(ReadOnlySpan<byte> input, out int consumed, out DecodedFrame frame)
    {
        consumed = 0;
        frame = default;
        while (true)
        {
            if (!_inFrame)
            {
                DecodeStatus status = ReadHeader(input, ref consumed);
                if (status != DecodeStatus.Data)
                {
                    return status;
                }
            }

            int available = input.Length - consumed;
            if (OpcodeRules.IsControl(_frame.Opcode))
            {
                int take = (int)Math.Min(available, _frameRemaining);
                if (take > 0)
                {
                    input.Slice(consumed, take).CopyTo((_control ??= new byte[FrameHeader.MaxControlPayload]).AsSpan(_controlCount));
                }

                _controlCount += take;
                consumed += take;
                _frameRemaining -= take;
                if (_frameRemaining > 0)
                {
                    return DecodeStatus.NeedMoreData;
                }

                _inFrame = false;
                if (_frame.Opcode == Opcode.Close)
                {
                    if (!CloseStatusRules.TryParse(ControlPayload, out WebSocketCloseStatus? closeStatus, out string? reason, out ProtocolViolation closeViolation))
                    {
                        return Fail(closeViolation);
                    }

                    CloseStatus = closeStatus;
                    CloseReason = reason;
                }

                frame = new DecodedFrame(_frame.Opcode, 0, _controlCount, EndOfMessage: true);
                return DecodeStatus.Control;
            }

            int count = (int)Math.Min(available, _frameRemaining);
            bool frameDone = count == _frameRemaining;
            bool endOfMessage = frameDone && _frame.Fin;
            if (count == 0 && !frameDone)
            {
                return DecodeStatus.NeedMoreData;
            }

            // Compressed text is validated after inflation, by whoever inflates it.
            if (_messageOpcode == Opcode.Text && !MessageCompressed &&
                !_utf8.Append(input.Slice(consumed, count), endOfMessage))
            {
                return Fail(ProtocolViolation.InvalidData("A text message is not valid UTF-8."));
            }

            int offset = consumed;
            consumed += count;
            _frameRemaining -= count;
            if (frameDone)
            {
                _inFrame = false;
                if (_frame.Fin)
                {
                    _inMessage = false;
                }
            }

            // An empty frame that does not end the message carries nothing worth reporting.
            if (count == 0 && !endOfMessage)
            {
                continue;
            }

            frame = new DecodedFrame(_messageOpcode, offset, count, endOfMessage);
            return DecodeStatus.Data;
        }
    }

    /// <summary>Reads and checks a header; returns Data when a frame has started.</summary>
    private DecodeStatus ReadHeader(ReadOnlySpan<byte> input, ref int consumed)
    {
        FrameHeader header;
        int headerLength;
        ProtocolViolation violation;
        OperationStatus status;
        if (_headerCount == 0)
        {
            // Fast path: the whole header is in the input.
            status = FrameHeader.TryRead(input.Slice(consumed), out header, out headerLength, out violation);
            if (status == OperationStatus.Done)
            {
                consumed += headerLength;
            }
        }
        else
        {
            status = OperationStatus.NeedMoreData;
            header = default;
            violation = default;
        }

        if (status == OperationStatus.NeedMoreData)
        {
            // Slow path: gather the header bytes across calls.
            int previous = _headerCount;
            int take = Math.Min(FrameHeader.MaxLength - previous, input.Length - consumed);
            input.Slice(consumed, take).CopyTo(((Span<byte>)_header).Slice(previous));
            _headerCount += take;
            status = FrameHeader.TryRead(((ReadOnlySpan<byte>)_header).Slice(0, _headerCount), out header, out headerLength, out violation);
            if (status == OperationStatus.NeedMoreData)
            {
                consumed += take;
                return DecodeStatus.NeedMoreData;
            }

            if (status == OperationStatus.Done)
            {
                consumed += headerLength - previous;
                _headerCount = 0;
            }
        }

        if (status == OperationStatus.InvalidData)
        {
            return Fail(violation);
        }

        ProtocolViolation? broken = Check(header);
        if (broken is { } v)
        {
            return Fail(v);
        }

        _frame = header;
        _frameRemaining = header.PayloadLength;
        _inFrame = true;
        if (OpcodeRules.IsControl(header.Opcode))
        {
            _controlCount = 0;
        }
        else if (header.Opcode == Opcode.Continuation)
        {
            _messageLength += header.PayloadLength;
        }
        else
        {
            _inMessage = true;
            _messageOpcode = header.Opcode;
            _messageLength = header.PayloadLength;
            MessageCompressed = (header.Rsv & FrameHeader.Rsv1) != 0;
            _utf8.Reset();
        }

        return DecodeStatus.Data;
    }

    /// <summary>The framing rules a header must satisfy given what came before.</summary>
    private ProtocolViolation? Check(in FrameHeader header)
    {
        // RFC 6455 §5.1: "A client MUST close a connection if it detects a masked frame."
        if (header.Masked)
        {
            return ProtocolViolation.Protocol("The server sent a masked frame.");
        }

        if (!OpcodeRules.IsDefined(header.Opcode))
        {
            return ProtocolViolation.Protocol($"The server sent a frame with reserved opcode {(byte)header.Opcode}.");
        }

        bool control = OpcodeRules.IsControl(header.Opcode);

        // RFC 6455 §5.2: RSV bits must be 0 unless an extension defines them; RFC 7692 §6 gives
        // RSV1 to the first frame of a compressed data message only.
        if (header.Rsv != 0 &&
            !(AllowRsv1 && header.Rsv == FrameHeader.Rsv1 && !control && header.Opcode != Opcode.Continuation))
        {
            return ProtocolViolation.Protocol("The server sent a frame with reserved bits set that no extension defines.");
        }

        if (control)
        {
            // RFC 6455 §5.5: control frames are at most 125 bytes and never fragmented.
            if (header.PayloadLength > FrameHeader.MaxControlPayload)
            {
                return ProtocolViolation.Protocol("The server sent a control frame with a payload over 125 bytes.");
            }

            if (!header.Fin)
            {
                return ProtocolViolation.Protocol("The server sent a fragmented control frame.");
            }

            return null;
        }

        // RFC 6455 §5.4: fragments of one message are not interleaved with another message.
        if (header.Opcode == Opcode.Continuation && !_inMessage)
        {
            return ProtocolViolation.Protocol("The server sent a continuation frame with no message in progress.");
        }

        if (header.Opcode != Opcode.Continuation && _inMessage)
        {
            return ProtocolViolation.Protocol("The server started a new message before finishing the previous one.");
        }

        long total = header.Opcode == Opcode.Continuation ? _messageLength + header.PayloadLength : header.PayloadLength;
        if (total > _maxMessageSize || total < 0)
        {
            return ProtocolViolation.TooBig($"A message exceeded the maximum message size of {_maxMessageSize} bytes.");
        }

        return null;
    }

    private DecodeStatus Fail(ProtocolViolation violation)
    {
        Violation = violation;
        return DecodeStatus.Violation;
    }

    /// <summary>The bytes of a header split across reads, kept inside the decoder (no array of its own).</summary>
    [System.Runtime.CompilerServices.InlineArray(FrameHeader.MaxLength)]
    private struct HeaderBytes
    {
        private byte _element;
    }
}
