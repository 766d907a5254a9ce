using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using Duplex.Diagnostics;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    /// <summary>
    /// Messages larger than this reach the receive queue in pieces of this size, so a big message
    /// can be streamed to the application while it arrives.
    /// </summary>
    internal const int ReceiveChunkSize = 64 * 1024;

    private readonly FrameDecoder _decoder;
    private readonly Channel<ReceivedChunk> _incoming;

    // Consumer side (one receive call at a time).
    private int _receiving;
    private ReceivedChunk _current;
    private int _currentOffset;
    private bool _hasCurrent;
    private byte[]? _assembly;
    private int _assemblyCount;

    private long _lastReceivedTimestamp;

    // Set while the receive loop waits for the application to make room in the queue.
    private volatile bool _receivePaused;

    /// <summary>
    /// When bytes last arrived from the peer (any frame, Pongs included), as a
    /// <see cref="TimeProvider.GetTimestamp"/> value; the moment the connection opened before that.
    /// </summary>
    internal long LastReceivedTimestamp => Volatile.Read(ref _lastReceivedTimestamp);

    /// <summary>
    /// Receives the next whole message: text as a string, binary as bytes. After the peer closed
    /// cleanly, returns a message of type Close (every time it is called).
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait; the connection stays open and no data is lost.</param>
    /// <exception cref="WebSocketProtocolException">The peer broke the protocol (the close code sent is in the exception).</exception>
    /// <exception cref="WebSocketClosedException">The connection was lost or failed.</exception>
    public async ValueTask<WebSocketMessage> ReceiveMessageAsync(CancellationToken cancellationToken = default)
    {
        EnterReceive();
        try
        {
            while (true)
            {
                if (!_hasCurrent)
                {
                    if (!await NextChunkAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return WebSocketMessage.FromClose(RemoteCloseStatus, RemoteCloseStatusDescription);
                    }
                }

                ReadOnlySpan<byte> rest = _current.Span.Slice(_currentOffset);
                WebSocketMessageType type = _current.Type;
                bool end = _current.EndOfMessage;
                if (end && _assemblyCount == 0)
                {
                    // The common case: the whole message is one queued piece; only the result allocates.
                    WebSocketMessage whole = Materialize(type, rest);
                    ReleaseCurrent();
                    return whole;
                }

                AppendToAssembly(rest);
                ReleaseCurrent();
                if (end)
                {
                    WebSocketMessage assembled = Materialize(type, _assembly.AsSpan(0, _assemblyCount));
                    ArrayPool<byte>.Shared.Return(_assembly!);
                    _assembly = null;
                    _assemblyCount = 0;
                    return assembled;
                }
            }
        }
        finally
        {
            ExitReceive();
        }
    }

    /// <summary>
    /// Receives the next piece of a message into <paramref name="buffer"/>, for messages too large to
    /// hold at once. <see cref="ValueWebSocketReceiveResult.EndOfMessage"/> marks a message's last
    /// piece. After the peer closed cleanly, returns a result of type Close with count 0.
    /// </summary>
    /// <param name="buffer">Where to copy the data.</param>
    /// <param name="cancellationToken">Cancels the wait; the connection stays open and no data is lost.</param>
    /// <exception cref="WebSocketProtocolException">The peer broke the protocol.</exception>
    /// <exception cref="WebSocketClosedException">The connection was lost or failed.</exception>
    public async ValueTask<ValueWebSocketReceiveResult> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        EnterReceive();
        try
        {
            if (!_hasCurrent && !await NextChunkAsync(cancellationToken).ConfigureAwait(false))
            {
                return new ValueWebSocketReceiveResult(0, WebSocketMessageType.Close, endOfMessage: true);
            }

            ReadOnlySpan<byte> rest = _current.Span.Slice(_currentOffset);
            int count = Math.Min(rest.Length, buffer.Length);
            rest.Slice(0, count).CopyTo(buffer.Span);
            _currentOffset += count;
            WebSocketMessageType type = _current.Type;
            bool end = false;
            if (_currentOffset == _current.Count)
            {
                end = _current.EndOfMessage;
                ReleaseCurrent();
            }

            return new ValueWebSocketReceiveResult(count, type, end);
        }
        finally
        {
            ExitReceive();
        }
    }

    private void EnterReceive()
    {
        if (Interlocked.Exchange(ref _receiving, 1) != 0)
        {
            throw new InvalidOperationException("Another receive is already in progress on this connection.");
        }
    }

    private void ExitReceive() => Volatile.Write(ref _receiving, 0);

    /// <summary>Makes the next queued piece current; false when the connection ended cleanly.</summary>
    private async ValueTask<bool> NextChunkAsync(CancellationToken cancellationToken)
    {
        ChannelReader<ReceivedChunk> reader = _incoming.Reader;
        while (true)
        {
            if (reader.TryRead(out ReceivedChunk chunk))
            {
                _current = chunk;
                _currentOffset = 0;
                _hasCurrent = true;
                return true;
            }

            if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                ThrowIfEndedAbnormally();
                return false;
            }
        }
    }

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

    private void ReleaseCurrent()
    {
        if (_current.Buffer is { } array)
        {
            ArrayPool<byte>.Shared.Return(array);
        }

        _current = default;
        _currentOffset = 0;
        _hasCurrent = false;
    }

    private void AppendToAssembly(ReadOnlySpan<byte> data)
    {
        int needed = _assemblyCount + data.Length;
        if (_assembly is null || _assembly.Length < needed)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _assembly is null ? 0 : _assembly.Length * 2));
            if (_assembly is not null)
            {
                _assembly.AsSpan(0, _assemblyCount).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_assembly);
            }

            _assembly = bigger;
        }

        data.CopyTo(_assembly.AsSpan(_assemblyCount));
        _assemblyCount = needed;
    }

    private static WebSocketMessage Materialize(WebSocketMessageType type, ReadOnlySpan<byte> payload) =>
        type == WebSocketMessageType.Text
            ? WebSocketMessage.FromText(payload.IsEmpty ? string.Empty : Encoding.UTF8.GetString(payload))
            : WebSocketMessage.FromBinary(payload.IsEmpty ? Array.Empty<byte>() : payload.ToArray());

    /// <summary>
    /// The one loop that reads the socket: decodes frames, answers Pings, matches Pongs, queues
    /// message data for the application, and runs the receiving half of the closing handshake.
    /// </summary>
    private async Task ReceiveLoopAsync()
    {
        // Let the caller that started the connection go on before the first read.
        await Task.Yield();
        Stream stream = _stream!;
        CancellationToken abort = _abort.Token;
        byte[]? buffer = null;
        byte[]? chunk = null;
        int chunkCount = 0;
        try
        {
            while (true)
            {
                if (buffer is null)
                {
                    // An idle connection holds no receive buffer: wait for data with a zero-byte
                    // read, and rent the buffer only once bytes are there.
                    await stream.ReadAsync(Memory<byte>.Empty, abort).ConfigureAwait(false);
                    buffer = ArrayPool<byte>.Shared.Rent(_options.ReceiveBufferSize);
                }

                int read = await stream.ReadAsync(buffer, abort).ConfigureAwait(false);
                if (read == 0)
                {
                    OnEndOfStream();
                    return;
                }

                Volatile.Write(ref _lastReceivedTimestamp, _time.GetTimestamp());

                int position = 0;
                while (position < read)
                {
                    int start = position;
                    DecodeStatus status = _decoder.Decode(buffer.AsSpan(start, read - start), out int consumed, out DecodedFrame frame);
                    position += consumed;
                    if (status == DecodeStatus.NeedMoreData)
                    {
                        break;
                    }

                    if (status == DecodeStatus.Data)
                    {
                        ReadOnlySpan<byte> data = buffer.AsSpan(start + frame.Offset, frame.Count);
                        Append(ref chunk, ref chunkCount, data);
                        if (frame.EndOfMessage || chunkCount >= ReceiveChunkSize)
                        {
                            var item = new ReceivedChunk(chunk, chunkCount, ToMessageType(frame.Opcode), frame.EndOfMessage);
                            chunk = null;
                            chunkCount = 0;
                            if (!_incoming.Writer.TryWrite(item))
                            {
                                await EnqueueSlowAsync(item, abort).ConfigureAwait(false);
                            }
                        }
                    }
                    else if (status == DecodeStatus.Control)
                    {
                        if (frame.Opcode == Opcode.Close)
                        {
                            await OnCloseFrameAsync(stream, buffer).ConfigureAwait(false);
                            return;
                        }

                        OnPingOrPong(frame.Opcode);
                    }
                    else
                    {
                        ProtocolViolation violation = _decoder.Violation;
                        Log.ProtocolViolation(_logger, violation.CloseStatus, violation.Message);
                        await FailAsync(violation.CloseStatus, null, violation.ToException()).ConfigureAwait(false);
                        return;
                    }
                }

                if (read < buffer.Length)
                {
                    // The socket is drained for now: give the buffer back before waiting again.
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or ChannelClosedException or System.Net.Sockets.SocketException)
        {
            OnReadFailed(ex);
        }
        catch (Exception ex)
        {
            // Never leave the loop with an unobserved fault: whatever happened ends the connection.
            Teardown(LostConnection(ex));
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (chunk is not null)
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
    }

    private static WebSocketMessageType ToMessageType(Opcode opcode) =>
        opcode == Opcode.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary;

    private static void Append(ref byte[]? chunk, ref int count, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        int needed = count + data.Length;
        if (chunk is null || chunk.Length < needed)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(chunk is null ? needed : Math.Max(needed, Math.Min(chunk.Length * 2, ReceiveChunkSize)));
            if (chunk is not null)
            {
                chunk.AsSpan(0, count).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(chunk);
            }

            chunk = bigger;
        }

        data.CopyTo(chunk.AsSpan(count));
        count = needed;
    }

    private async ValueTask EnqueueSlowAsync(ReceivedChunk item, CancellationToken abort)
    {
        _receivePaused = true;
        try
        {
            await _incoming.Writer.WriteAsync(item, abort).ConfigureAwait(false);
        }
        catch
        {
            if (item.Buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(item.Buffer);
            }

            throw;
        }
        finally
        {
            _receivePaused = false;
        }
    }

    private void OnPingOrPong(Opcode opcode)
    {
        if (opcode == Opcode.Ping)
        {
            // RFC 6455 §5.5.3: a Pong "MUST have identical Application data" to the Ping it answers.
            Log.PingReceived(_logger, _decoder.ControlPayload.Length);
            TrySendPong(_decoder.ControlPayload);
        }
        else
        {
            // RFC 6455 §5.5.3: an unsolicited Pong is allowed and needs no answer.
            _pings.OnPong(_decoder.ControlPayload, _time.GetTimestamp(), _time);
            OnKeepAlivePong();
        }
    }

    /// <summary>RFC 6455 §5.5.1 and §7.1.1: the peer's Close arrived.</summary>
    private async Task OnCloseFrameAsync(Stream stream, byte[] buffer)
    {
        lock (_stateLock)
        {
            RemoteCloseStatus = _decoder.CloseStatus;
            RemoteCloseStatusDescription = _decoder.CloseReason;
            if (_state == WebSocketConnectionState.Open)
            {
                _state = WebSocketConnectionState.Closing;
            }

            _peerClosedFirst = LocalCloseStatus is null;
        }

        using var deadline = new CancellationTokenSource(_options.CloseTimeout, _time);
        using CancellationTokenRegistration link = _abort.Token.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), deadline);
        try
        {
            // RFC 6455 §5.5.1: answer with a Close, echoing the status code received (an empty
            // Close when none was), unless ours is already on its way.
            if (TryAppendClose(RemoteCloseStatus, null, out long ticket))
            {
                await WaitWrittenAsync(ticket, deadline.Token).ConfigureAwait(false);
            }

            // Both Close frames have been exchanged: the application may learn of the close now,
            // without waiting for the TCP connection to end.
            _incoming.Writer.TryComplete();

            // RFC 6455 §7.1.1: the server closes the TCP connection first; wait for that (bounded).
            while (await stream.ReadAsync(buffer, deadline.Token).ConfigureAwait(false) > 0)
            {
                // Nothing may follow a Close frame; whatever does is discarded.
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException or DuplexException or System.Net.Sockets.SocketException)
        {
            if (deadline.IsCancellationRequested && !_abort.IsCancellationRequested)
            {
                Log.CloseTimeout(_logger, _options.CloseTimeout);
            }
        }

        Teardown(null);
    }

    private void OnEndOfStream()
    {
        bool clean;
        lock (_stateLock)
        {
            // A server that drops TCP right after our Close ended the handshake its own way.
            clean = LocalCloseStatus is not null;
        }

        Teardown(clean ? null : LostConnection(null));
    }

    private void OnReadFailed(Exception ex)
    {
        bool expected;
        lock (_stateLock)
        {
            expected = _tornDown || LocalCloseStatus is not null;
        }

        Teardown(expected ? null : LostConnection(ex));
    }

    /// <summary>A piece of a received message waiting in the queue; the buffer is pooled.</summary>
    private readonly record struct ReceivedChunk(byte[]? Buffer, int Count, WebSocketMessageType Type, bool EndOfMessage)
    {
        public ReadOnlySpan<byte> Span => Buffer is null ? default : Buffer.AsSpan(0, Count);
    }
}
