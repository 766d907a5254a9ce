using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// The server side of one TCP connection accepted by <see cref="RawWebSocketServer"/>: a test scripts exactly what
/// the client receives (correct, slow, broken or hostile bytes) and reads back exactly what the client sent.
/// </summary>
/// <remarks>
/// Meant to be driven by one test at a time: reads must not overlap other reads, writes must not overlap other writes.
/// Every wait is bounded by a timeout (<see cref="TestTimeouts.Default"/> unless given) and a cancellation token.
/// Every byte received is recorded in <see cref="ReceivedBytes"/>.
/// </remarks>
public sealed class RawConnection : IAsyncDisposable
{
    /// <summary>The largest frame payload <see cref="ReadFrameAsync"/> accepts before it reports the frame as invalid.</summary>
    public const int MaxFramePayloadBytes = 64 * 1024 * 1024;

    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly MemoryStream _received = new();
    private readonly Lock _receivedLock = new();
    private byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private int _disposed;

    internal RawConnection(TcpClient client)
    {
        _client = client;
        _client.NoDelay = true;
        _stream = client.GetStream();
    }

    /// <summary>The request head, once <see cref="ReadRequestAsync"/> has read it.</summary>
    public RawHttpRequest? Request { get; private set; }

    /// <summary>A copy of every byte received from the client so far, in order.</summary>
    public byte[] ReceivedBytes
    {
        get
        {
            lock (_receivedLock)
            {
                return _received.ToArray();
            }
        }
    }

    /// <summary>The underlying socket, for tests that need socket-level control.</summary>
    public Socket Socket => _client.Client;

    /// <summary>
    /// Reads the HTTP request head up to and including the empty line (CRLFCRLF), at most
    /// <see cref="RawHttpRequest.DefaultMaxHeadBytes"/> bytes. Bytes after the head stay buffered for frame reads.
    /// </summary>
    /// <exception cref="TimeoutException">The head did not arrive within the timeout.</exception>
    /// <exception cref="EndOfStreamException">The client closed the connection before the head ended.</exception>
    /// <exception cref="InvalidDataException">The head is too long.</exception>
    public async Task<RawHttpRequest> ReadRequestAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TestTimeouts.Default;
        using var source = TestTimeouts.CreateLinkedSource(limit, cancellationToken);
        var searchFrom = _start;
        while (true)
        {
            var end = IndexOfEndOfHead(searchFrom);
            if (end >= 0)
            {
                var head = Encoding.Latin1.GetString(_buffer, _start, end - _start);
                _start = end + 4;
                Request = RawHttpRequest.Parse(head);
                return Request;
            }

            if (_end - _start >= RawHttpRequest.DefaultMaxHeadBytes)
            {
                throw new InvalidDataException($"The request head is longer than {RawHttpRequest.DefaultMaxHeadBytes} bytes.");
            }

            searchFrom = Math.Max(_start, _end - 3);
            if (!await FillAsync(source.Token, limit, cancellationToken, "the request head"))
            {
                throw new EndOfStreamException($"The client closed the connection after {_end - _start} bytes of the request head.");
            }
        }
    }

    /// <summary>
    /// Writes a correct <c>101 Switching Protocols</c> response with the computed <c>Sec-WebSocket-Accept</c>,
    /// reading the request head first if that has not happened yet.
    /// </summary>
    /// <param name="extraHeaders">Header fields appended after the standard ones, as given.</param>
    /// <param name="subProtocol">A <c>Sec-WebSocket-Protocol</c> value to select, if any.</param>
    /// <param name="extensions">A <c>Sec-WebSocket-Extensions</c> value to answer with, if any.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidOperationException">The request has no <c>Sec-WebSocket-Key</c>.</exception>
    public async Task AcceptHandshakeAsync(
        IEnumerable<KeyValuePair<string, string>>? extraHeaders = null,
        string? subProtocol = null,
        string? extensions = null,
        CancellationToken cancellationToken = default)
    {
        var request = Request ?? await ReadRequestAsync(cancellationToken: cancellationToken);
        var key = request.SecWebSocketKey
            ?? throw new InvalidOperationException("The request has no Sec-WebSocket-Key header to answer.");

        var response = new StringBuilder()
            .Append("HTTP/1.1 101 Switching Protocols\r\n")
            .Append("Upgrade: websocket\r\n")
            .Append("Connection: Upgrade\r\n")
            .Append("Sec-WebSocket-Accept: ").Append(WebSocketAcceptKey.Compute(key)).Append("\r\n");
        if (subProtocol is not null)
        {
            response.Append("Sec-WebSocket-Protocol: ").Append(subProtocol).Append("\r\n");
        }

        if (extensions is not null)
        {
            response.Append("Sec-WebSocket-Extensions: ").Append(extensions).Append("\r\n");
        }

        foreach (var (name, value) in extraHeaders ?? [])
        {
            response.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        response.Append("\r\n");
        await WriteRawAsync(Encoding.Latin1.GetBytes(response.ToString()), cancellationToken);
    }

    /// <summary>Writes <paramref name="bytes"/> as they are: a custom or broken HTTP response, frames, garbage.</summary>
    public async Task WriteRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken = default)
    {
        using var source = TestTimeouts.CreateLinkedSource(TestTimeouts.Default, cancellationToken);
        await _stream.WriteAsync(bytes, source.Token);
        await _stream.FlushAsync(source.Token);
    }

    /// <summary>Writes <paramref name="text"/> encoded as Latin-1 (one byte per char), e.g. a hand-made HTTP response.</summary>
    public Task WriteRawAsync(string text, CancellationToken cancellationToken = default) =>
        WriteRawAsync(Encoding.Latin1.GetBytes(text), cancellationToken);

    /// <summary>Writes <paramref name="bytes"/> one byte per write, waiting <paramref name="perByte"/> after each.</summary>
    public async Task TrickleAsync(byte[] bytes, TimeSpan perByte, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        for (var i = 0; i < bytes.Length; i++)
        {
            await WriteRawAsync(bytes.AsMemory(i, 1), cancellationToken);
            if (perByte > TimeSpan.Zero)
            {
                await Task.Delay(perByte, cancellationToken);
            }
        }
    }

    /// <summary>Builds a frame with <see cref="Frame"/> and writes it.</summary>
    public Task SendFrameAsync(
        byte opcode,
        ReadOnlyMemory<byte> payload,
        bool fin = true,
        byte rsv = 0,
        bool masked = false,
        FrameLengthEncoding lengthEncoding = FrameLengthEncoding.Minimal,
        CancellationToken cancellationToken = default) =>
        WriteRawAsync(Frame(opcode, payload.Span, fin, rsv, masked, lengthEncoding), cancellationToken);

    /// <summary>Writes one unfragmented text frame holding <paramref name="text"/> as UTF-8.</summary>
    public Task SendTextAsync(string text, CancellationToken cancellationToken = default) =>
        SendFrameAsync(0x1, Encoding.UTF8.GetBytes(text), cancellationToken: cancellationToken);

    /// <summary>Writes one unfragmented binary frame.</summary>
    public Task SendBinaryAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        SendFrameAsync(0x2, payload, cancellationToken: cancellationToken);

    /// <summary>Writes a Close frame with <paramref name="code"/> and <paramref name="reason"/>.</summary>
    public Task SendCloseAsync(ushort code, string reason = "", CancellationToken cancellationToken = default) =>
        SendFrameAsync(0x8, ClosePayload(code, reason), cancellationToken: cancellationToken);

    /// <summary>
    /// Builds a frame as a server would send it (RFC 6455 §5.2). Every field can be set to an invalid value on purpose.
    /// </summary>
    /// <param name="opcode">The 4-bit opcode (0x0 continuation, 0x1 text, 0x2 binary, 0x8 close, 0x9 ping, 0xA pong, or a reserved one).</param>
    /// <param name="payload">The payload, unmasked.</param>
    /// <param name="fin">The FIN bit.</param>
    /// <param name="rsv">The RSV bits in place (any of 0x40, 0x20, 0x10).</param>
    /// <param name="masked">Sets the MASK bit and masks the payload with a random key (a server must not do this).</param>
    /// <param name="lengthEncoding">The payload-length form; a longer than minimal form is allowed for hostile tests.</param>
    /// <exception cref="ArgumentOutOfRangeException">A field does not fit its bits, or the payload does not fit the forced length form.</exception>
    public static byte[] Frame(
        byte opcode,
        ReadOnlySpan<byte> payload,
        bool fin = true,
        byte rsv = 0,
        bool masked = false,
        FrameLengthEncoding lengthEncoding = FrameLengthEncoding.Minimal)
    {
        var maskKey = masked ? RandomNumberGenerator.GetBytes(4) : null;
        var header = FrameHeader(opcode, (ulong)payload.Length, fin, rsv, lengthEncoding, maskKey);
        var frame = new byte[header.Length + payload.Length];
        header.CopyTo(frame, 0);
        payload.CopyTo(frame.AsSpan(header.Length));
        if (maskKey is not null)
        {
            for (var i = 0; i < payload.Length; i++)
            {
                frame[header.Length + i] ^= maskKey[i % 4];
            }
        }

        return frame;
    }

    /// <summary>
    /// Builds only a frame header that declares <paramref name="payloadLength"/> bytes, whatever follows it; for
    /// hostile tests (lengths that lie, have the most significant bit set, or announce huge payloads).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A field does not fit its bits, or the length does not fit the forced form.</exception>
    public static byte[] FrameHeader(
        byte opcode,
        ulong payloadLength,
        bool fin = true,
        byte rsv = 0,
        FrameLengthEncoding lengthEncoding = FrameLengthEncoding.Minimal,
        byte[]? maskKey = null)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(opcode, (byte)0x0F);
        if ((rsv & ~0x70) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(rsv), rsv, "RSV bits are 0x40, 0x20 and 0x10.");
        }

        if (maskKey is not null && maskKey.Length != 4)
        {
            throw new ArgumentOutOfRangeException(nameof(maskKey), "A masking key has 4 bytes.");
        }

        if (lengthEncoding == FrameLengthEncoding.Minimal)
        {
            lengthEncoding = payloadLength switch
            {
                <= 125 => FrameLengthEncoding.SevenBit,
                <= ushort.MaxValue => FrameLengthEncoding.SixteenBit,
                _ => FrameLengthEncoding.SixtyFourBit,
            };
        }

        var lengthBytes = lengthEncoding switch
        {
            FrameLengthEncoding.SevenBit when payloadLength <= 125 => 0,
            FrameLengthEncoding.SixteenBit when payloadLength <= ushort.MaxValue => 2,
            FrameLengthEncoding.SixtyFourBit => 8,
            _ => throw new ArgumentOutOfRangeException(
                nameof(lengthEncoding), lengthEncoding, $"A payload of {payloadLength} bytes does not fit this length form."),
        };

        var header = new byte[2 + lengthBytes + (maskKey?.Length ?? 0)];
        header[0] = (byte)((fin ? 0x80 : 0) | rsv | opcode);
        var maskBit = maskKey is null ? 0 : 0x80;
        switch (lengthBytes)
        {
            case 0:
                header[1] = (byte)(maskBit | (int)payloadLength);
                break;
            case 2:
                header[1] = (byte)(maskBit | 126);
                BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)payloadLength);
                break;
            default:
                header[1] = (byte)(maskBit | 127);
                BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(2), payloadLength);
                break;
        }

        maskKey?.CopyTo(header, 2 + lengthBytes);
        return header;
    }

    /// <summary>Builds a Close payload: the 2-byte big-endian code followed by the UTF-8 reason (RFC 6455 §5.5.1).</summary>
    public static byte[] ClosePayload(ushort code, string reason = "")
    {
        ArgumentNullException.ThrowIfNull(reason);
        var payload = new byte[2 + Encoding.UTF8.GetByteCount(reason)];
        BinaryPrimitives.WriteUInt16BigEndian(payload, code);
        Encoding.UTF8.GetBytes(reason, payload.AsSpan(2));
        return payload;
    }

    /// <summary>Reads exactly one frame sent by the client and returns it with its payload unmasked.</summary>
    /// <exception cref="TimeoutException">No complete frame arrived within the timeout.</exception>
    /// <exception cref="EndOfStreamException">The client closed the connection before a complete frame.</exception>
    /// <exception cref="InvalidDataException">The frame announces a payload over <see cref="MaxFramePayloadBytes"/>.</exception>
    public async Task<RawFrame> ReadFrameAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TestTimeouts.Default;
        using var source = TestTimeouts.CreateLinkedSource(limit, cancellationToken);
        while (true)
        {
            if (TryParseFrame(out var frame))
            {
                return frame;
            }

            if (!await FillAsync(source.Token, limit, cancellationToken, "a frame"))
            {
                throw new EndOfStreamException(
                    $"The client closed the connection with {_end - _start} bytes of an incomplete frame buffered.");
            }
        }
    }

    /// <summary>
    /// Reads a frame that must be a Close frame and parses its code and reason.
    /// </summary>
    /// <param name="timeout">The bound for the whole wait.</param>
    /// <param name="skipOtherFrames">Skip frames of other types instead of failing on them.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="InvalidDataException">Another frame came first and <paramref name="skipOtherFrames"/> is false.</exception>
    public async Task<RawCloseFrame> ReadCloseFrameAsync(
        TimeSpan? timeout = null, bool skipOtherFrames = false, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TestTimeouts.Default;
        using var source = TestTimeouts.CreateLinkedSource(limit, cancellationToken);
        while (true)
        {
            RawFrame frame;
            try
            {
                frame = await ReadFrameAsync(limit, source.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"No Close frame arrived within {limit}.");
            }

            if (frame.Opcode == 0x8)
            {
                if (frame.Payload.Length < 2)
                {
                    return new RawCloseFrame(null, string.Empty, frame);
                }

                var code = BinaryPrimitives.ReadUInt16BigEndian(frame.Payload);
                return new RawCloseFrame(code, Encoding.UTF8.GetString(frame.Payload, 2, frame.Payload.Length - 2), frame);
            }

            if (!skipOtherFrames)
            {
                throw new InvalidDataException($"Expected a Close frame but read opcode 0x{frame.Opcode:X}.");
            }
        }
    }

    /// <summary>
    /// Waits until the client ends the TCP connection (a read returns 0 or the connection is reset). Bytes that arrive
    /// meanwhile are recorded in <see cref="ReceivedBytes"/> and otherwise ignored.
    /// </summary>
    /// <returns><see langword="true"/> when the connection ended within the timeout, otherwise <see langword="false"/>.</returns>
    public async Task<bool> WaitForEndOfStreamAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        using var source = TestTimeouts.CreateLinkedSource(timeout ?? TestTimeouts.Default, cancellationToken);
        var scratch = new byte[4096];
        try
        {
            while (true)
            {
                var read = await _stream.ReadAsync(scratch, source.Token);
                if (read == 0)
                {
                    return true;
                }

                Record(scratch, 0, read);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Half-closes the connection: sends FIN but can still read what the client sends.</summary>
    public void ShutdownSend() => _client.Client.Shutdown(SocketShutdown.Send);

    /// <summary>Resets the connection: closes the socket with a zero linger time so the client sees a TCP RST.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _client.LingerState = new LingerOption(true, 0);
        }
        catch (SocketException)
        {
            // The socket is already gone; there is nothing left to reset.
        }
        catch (ObjectDisposedException)
        {
            // Same: already closed.
        }

        _client.Dispose();
    }

    /// <summary>Closes the connection gracefully (FIN). Never throws; a second call does nothing.</summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _stream.Dispose();
            _client.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    private async Task<bool> FillAsync(CancellationToken token, TimeSpan limit, CancellationToken callerToken, string what)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
        }

        int read;
        try
        {
            read = await _stream.ReadAsync(_buffer.AsMemory(_end), token);
        }
        catch (OperationCanceledException) when (!callerToken.IsCancellationRequested)
        {
            throw new TimeoutException($"Waiting for {what} timed out after {limit}; {_end - _start} bytes are buffered.");
        }

        if (read == 0)
        {
            return false;
        }

        Record(_buffer, _end, read);
        _end += read;
        return true;
    }

    private void Record(byte[] bytes, int offset, int count)
    {
        lock (_receivedLock)
        {
            _received.Write(bytes, offset, count);
        }
    }

    private int IndexOfEndOfHead(int searchFrom)
    {
        var index = _buffer.AsSpan(searchFrom, _end - searchFrom).IndexOf("\r\n\r\n"u8);
        return index < 0 ? -1 : searchFrom + index;
    }

    private bool TryParseFrame(out RawFrame frame)
    {
        frame = null!;
        var available = _buffer.AsSpan(_start, _end - _start);
        if (available.Length < 2)
        {
            return false;
        }

        var fin = (available[0] & 0x80) != 0;
        var rsv = (byte)(available[0] & 0x70);
        var opcode = (byte)(available[0] & 0x0F);
        var masked = (available[1] & 0x80) != 0;
        var length = (ulong)(available[1] & 0x7F);
        var headerLength = 2;
        if (length == 126)
        {
            if (available.Length < 4)
            {
                return false;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(available[2..]);
            headerLength = 4;
        }
        else if (length == 127)
        {
            if (available.Length < 10)
            {
                return false;
            }

            length = BinaryPrimitives.ReadUInt64BigEndian(available[2..]);
            headerLength = 10;
        }

        if (length > MaxFramePayloadBytes)
        {
            throw new InvalidDataException($"The client frame announces {length} payload bytes, more than {MaxFramePayloadBytes}.");
        }

        var maskKey = masked ? new byte[4] : null;
        var total = headerLength + (masked ? 4 : 0) + (int)length;
        if (available.Length < total)
        {
            if (total > _buffer.Length)
            {
                // Make room for the whole frame so the next fill can complete it.
                var bigger = new byte[total];
                available.CopyTo(bigger);
                _end = available.Length;
                _start = 0;
                _buffer = bigger;
            }

            return false;
        }

        if (maskKey is not null)
        {
            available.Slice(headerLength, 4).CopyTo(maskKey);
            headerLength += 4;
        }

        var wire = available.Slice(headerLength, (int)length).ToArray();
        var payload = (byte[])wire.Clone();
        if (maskKey is not null)
        {
            for (var i = 0; i < payload.Length; i++)
            {
                payload[i] ^= maskKey[i % 4];
            }
        }

        _start += total;
        frame = new RawFrame(fin, rsv, opcode, masked, payload) { MaskKey = maskKey, WirePayload = wire };
        return true;
    }
}
