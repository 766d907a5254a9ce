using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;

namespace Duplex.Benchmarks.Server;

/// <summary>
/// One upgraded connection on the benchmark server: reads client frames in large reads, unmasks
/// them in place (RFC 6455 §5.3), answers Ping with Pong and Close with Close, and hands data
/// frames to the endpoint. Output written during one read batch goes out in one write, so the
/// server stays far cheaper per message than any client it measures.
/// </summary>
internal abstract class ServerSession
{
    private readonly Stream _stream;
    private readonly int _bufferSize;
    private readonly byte[] _header = new byte[14];
    private readonly byte[] _control = new byte[125];
    private int _headerCount;
    private bool _inFrame;
    private byte _opcode;
    private bool _fin;
    private long _remaining;
    private long _frameLength;
    private uint _maskKey;
    private int _maskIndex;
    private int _controlCount;
    private bool _closeReceived;

    protected ServerSession(Stream stream, int bufferSize)
    {
        _stream = stream;
        _bufferSize = bufferSize;
    }

    /// <summary>What the session has to send after the current read batch.</summary>
    protected ArrayBufferWriter<byte> Output { get; } = new(16 * 1024);

    protected Stream Stream => _stream;

    /// <summary>Runs until the client's Close (answered) or the end of the connection.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await OnOpenAsync(cancellationToken).ConfigureAwait(false);
        byte[] buffer = new byte[_bufferSize];
        try
        {
            while (!_closeReceived)
            {
                int read = await _stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return;
                }

                Process(buffer.AsSpan(0, read));
                if (Output.WrittenCount > 0)
                {
                    await _stream.WriteAsync(Output.WrittenMemory, cancellationToken).ConfigureAwait(false);
                    await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                    Output.ResetWrittenCount();
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client went away; nothing to answer.
        }
    }

    /// <summary>Called once after the upgrade, before reading (the push endpoint writes here).</summary>
    protected virtual Task OnOpenAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>A data frame begins: its opcode (0 for a continuation), FIN bit and payload length.</summary>
    protected abstract void OnFrameStart(byte opcode, bool fin, long length);

    /// <summary>Unmasked payload bytes of the current data frame, in order.</summary>
    protected abstract void OnPayload(ReadOnlySpan<byte> payload);

    /// <summary>The current data frame ended.</summary>
    protected abstract void OnFrameEnd(byte opcode, bool fin);

    private void Process(Span<byte> data)
    {
        while (!data.IsEmpty && !_closeReceived)
        {
            if (!_inFrame)
            {
                int take = Math.Min(data.Length, 14 - _headerCount);
                data.Slice(0, take).CopyTo(_header.AsSpan(_headerCount));
                int available = _headerCount + take;
                int headerLength = ParseHeader(_header.AsSpan(0, available));
                if (headerLength == 0)
                {
                    _headerCount = available;
                    return;
                }

                data = data.Slice(headerLength - _headerCount);
                _headerCount = 0;
                _inFrame = true;
                _maskIndex = 0;
                _controlCount = 0;
                if (!IsControl(_opcode))
                {
                    OnFrameStart(_opcode, _fin, _frameLength);
                }
            }

            int count = (int)Math.Min(data.Length, _remaining);
            Span<byte> payload = data.Slice(0, count);
            Unmask(payload);
            if (IsControl(_opcode))
            {
                payload.CopyTo(_control.AsSpan(_controlCount));
                _controlCount += count;
            }
            else if (count > 0)
            {
                OnPayload(payload);
            }

            data = data.Slice(count);
            _remaining -= count;
            if (_remaining == 0)
            {
                _inFrame = false;
                if (IsControl(_opcode))
                {
                    OnControl();
                }
                else
                {
                    OnFrameEnd(_opcode, _fin);
                }
            }
        }
    }

    /// <summary>Parses a complete header from the start of the span; 0 when more bytes are needed.</summary>
    private int ParseHeader(ReadOnlySpan<byte> h)
    {
        if (h.Length < 2)
        {
            return 0;
        }

        long length = h[1] & 0x7F;
        int offset = 2;
        if (length == 126)
        {
            if (h.Length < 4)
            {
                return 0;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(h.Slice(2));
            offset = 4;
        }
        else if (length == 127)
        {
            if (h.Length < 10)
            {
                return 0;
            }

            length = (long)BinaryPrimitives.ReadUInt64BigEndian(h.Slice(2));
            offset = 10;
        }

        bool masked = (h[1] & 0x80) != 0;
        if (masked)
        {
            if (h.Length < offset + 4)
            {
                return 0;
            }

            _maskKey = BinaryPrimitives.ReadUInt32LittleEndian(h.Slice(offset));
            offset += 4;
        }
        else
        {
            _maskKey = 0;
        }

        _fin = (h[0] & 0x80) != 0;
        _opcode = (byte)(h[0] & 0x0F);
        _frameLength = length;
        _remaining = length;
        return offset;
    }

    private void Unmask(Span<byte> payload)
    {
        if (_maskKey == 0 || payload.IsEmpty)
        {
            return;
        }

        // Rotate the key so its low byte applies to payload[0], then XOR word by word.
        uint key = BitOperations.RotateRight(_maskKey, _maskIndex * 8);
        int i = 0;
        Vector<byte> vector = Vector.AsVectorByte(new Vector<uint>(key));
        int width = Vector<byte>.Count;
        for (; i + width <= payload.Length; i += width)
        {
            (new Vector<byte>(payload.Slice(i)) ^ vector).CopyTo(payload.Slice(i));
        }

        for (; i + 4 <= payload.Length; i += 4)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(payload.Slice(i), BinaryPrimitives.ReadUInt32LittleEndian(payload.Slice(i)) ^ key);
        }

        for (; i < payload.Length; i++)
        {
            payload[i] ^= (byte)(key >> ((i & 3) * 8));
        }

        _maskIndex = (_maskIndex + payload.Length) & 3;
    }

    private void OnControl()
    {
        ReadOnlySpan<byte> payload = _control.AsSpan(0, _controlCount);
        switch (_opcode)
        {
            case ServerFrames.Ping:
                ServerFrames.WriteFrame(Output, ServerFrames.Pong, payload);
                break;
            case ServerFrames.Close:
                // RFC 6455 §5.5.1: echo the status code; the server then ends the TCP connection.
                ServerFrames.WriteFrame(Output, ServerFrames.Close, payload.Length >= 2 ? payload.Slice(0, 2) : default);
                _closeReceived = true;
                break;
        }
    }

    private static bool IsControl(byte opcode) => (opcode & 0x8) != 0;
}
