using System.Buffers;
using System.Globalization;
using Duplex.Handshake.Rules;

namespace Duplex.Handshake;

/// <summary>Reading the answer: the response head, and the start of a rejection's body.</summary>
internal sealed partial class SocketWebSocketTransport
{
    /// <summary>The longest chunk-size line of a chunked rejection body that is read.</summary>
    private const int MaxChunkLineBytes = 1024;

    /// <summary>
    /// A response read off the connection. Holds the (pooled) buffer the head was read into, which
    /// may also hold what followed the head: WebSocket frames after a 101, or the start of a body.
    /// </summary>
    private sealed class Exchange : HandshakeExchange
    {
        private Stream? _stream;
        private CancellationTokenRegistration _abort;
        private byte[]? _buffer;
        private int _position;
        private int _length;
        private Body _body;
        private long _remaining;
        private ChunkState _chunkState;

        private Exchange(Http11ResponseHead head, string expectedAccept, Stream stream, CancellationTokenRegistration abort, byte[] buffer, int position, int length)
            : base(head.StatusCode, head.ReasonPhrase, head.Version, head.Headers, expectedAccept)
        {
            _stream = stream;
            _abort = abort;
            _buffer = buffer;
            _position = position;
            _length = length;
            _body = GetBodyFraming(head, out _remaining);
        }

        private enum Body
        {
            None,
            ContentLength,
            Chunked,
            UntilClose,
        }

        private enum ChunkState
        {
            Size,
            Data,
            DataEnd,
            Done,
        }

        /// <summary>
        /// Reads the response head from <paramref name="stream"/>: 1xx interim responses other than
        /// 101 are skipped (RFC 9110 §15.2), and the whole, interim heads included, must fit within
        /// <see cref="WebSocketHandshakeOptions.MaxResponseHeadersBytes"/> (in whole KiB, rounded up,
        /// as SocketsHttpHandler counts it).
        /// </summary>
        /// <param name="stream">The connection.</param>
        /// <param name="uri">Where it leads, for messages.</param>
        /// <param name="options">The limits.</param>
        /// <param name="expectedAccept">The <c>Sec-WebSocket-Accept</c> value the key calls for.</param>
        /// <param name="abort">
        /// Closes the socket when the handshake is canceled (reads here take no token); the exchange
        /// keeps it until the connection is handed over or released.
        /// </param>
        public static async Task<Exchange> ReadAsync(Stream stream, Uri uri, WebSocketHandshakeOptions options, string expectedAccept, CancellationTokenRegistration abort)
        {
            int limit = (int)Math.Min(int.MaxValue, ((long)options.MaxResponseHeadersBytes + 1023) / 1024 * 1024);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit, InitialReadBufferBytes));
            try
            {
                int length = 0;
                int headStart = 0;
                int scanned = 0;
                int lineStart = 0;
                while (true)
                {
                    int headLength = Http11ResponseHead.FindEnd(buffer.AsSpan(headStart, length - headStart), ref scanned, ref lineStart, out string? error);
                    if (error is not null)
                    {
                        throw InvalidHttp(uri, error);
                    }

                    if (headLength > 0)
                    {
                        Http11ResponseHead head = Http11ResponseHead.Parse(buffer.AsSpan(headStart, headLength), out error) ?? throw InvalidHttp(uri, error!);
                        headStart += headLength;
                        if (head.StatusCode is >= 100 and < 200 and not 101)
                        {
                            scanned = 0;
                            lineStart = 0;
                            continue;
                        }

                        if (head.StatusCode == 101 && head.Version != System.Net.HttpVersion.Version11)
                        {
                            throw InvalidHandshake.Create(
                                $"The server at {WebSocketUriRules.Endpoint(uri)} answered 101 over HTTP/{head.Version.ToString(2)}, which cannot switch protocols.");
                        }

                        var exchange = new Exchange(head, expectedAccept, stream, abort, buffer, headStart, length);
                        buffer = null!; // the exchange owns it now
                        return exchange;
                    }

                    if (length == limit)
                    {
                        throw InvalidHandshake.Create(string.Create(
                            CultureInfo.InvariantCulture,
                            $"The response headers from {WebSocketUriRules.Endpoint(uri)} exceed the limit of {options.MaxResponseHeadersBytes} bytes."));
                    }

                    if (length == buffer.Length)
                    {
                        byte[] bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(limit, 2L * buffer.Length));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    int read = await stream.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, limit) - length)).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new WebSocketConnectException(
                            WebSocketConnectError.Network,
                            $"The server at {WebSocketUriRules.Endpoint(uri)} closed the connection before completing the handshake.");
                    }

                    length += read;
                }
            }
            finally
            {
                if (buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }

        /// <summary>
        /// Hands the connection over. Bytes that arrived behind the 101 head (frames the server sent
        /// at once) are copied out and put in front of the stream, so none are lost; the read buffer
        /// goes back to the pool either way.
        /// </summary>
        public override async Task<WebSocketHandshakeResult> OpenAsync(WebSocketHandshakeResponse response, CancellationToken cancellationToken)
        {
            // From here on, cancellation no longer closes the socket; a cancellation that came first
            // fails the open (DisposeAsync then closes it).
            await _abort.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();

            Stream stream = _stream!;
            byte[] buffer = _buffer!;
            int leftover = _length - _position;
            if (leftover > 0)
            {
                stream = new PrefixedStream(buffer.AsSpan(_position, leftover).ToArray(), stream);
            }

            _stream = null;
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
            return new WebSocketHandshakeResult(stream, response) { DisposingStreamEndsReads = true };
        }

        /// <summary>
        /// RFC 9112 §6: the body as the head frames it — by <c>Transfer-Encoding: chunked</c>, by
        /// <c>Content-Length</c>, or until the server closes. A body it cannot frame reads as empty.
        /// </summary>
        public override async ValueTask<int> ReadBodyAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            if (buffer.IsEmpty)
            {
                return 0;
            }

            switch (_body)
            {
                case Body.ContentLength:
                    if (_remaining == 0)
                    {
                        return 0;
                    }

                    int read = await ReadRawAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken).ConfigureAwait(false);
                    _remaining -= read;
                    return read;

                case Body.UntilClose:
                    return await ReadRawAsync(buffer, cancellationToken).ConfigureAwait(false);

                case Body.Chunked:
                    return await ReadChunkedAsync(buffer, cancellationToken).ConfigureAwait(false);

                default:
                    return 0;
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await _abort.DisposeAsync().ConfigureAwait(false);
            if (_buffer is { } buffer)
            {
                _buffer = null;
                ArrayPool<byte>.Shared.Return(buffer);
            }

            if (_stream is { } stream)
            {
                _stream = null;
                try
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Closing a broken connection may fail; there is nothing left to release.
                }
            }
        }

        private static Body GetBodyFraming(Http11ResponseHead head, out long contentLength)
        {
            contentLength = 0;

            // RFC 9110 §6.4.1: 1xx, 204 and 304 responses have no body.
            if (head.StatusCode is < 200 or 204 or 304)
            {
                return Body.None;
            }

            // RFC 9112 §6.3: Transfer-Encoding wins over Content-Length; chunked must be the last coding.
            if (head.Headers.TryGetValue("Transfer-Encoding", out IReadOnlyList<string>? codings))
            {
                List<string> elements = HttpFieldSyntax.SplitList(codings);
                return elements.Count > 0 && elements[^1].Equals("chunked", StringComparison.OrdinalIgnoreCase)
                    ? Body.Chunked
                    : Body.UntilClose;
            }

            if (head.Headers.TryGetValue("Content-Length", out IReadOnlyList<string>? lengths))
            {
                // Several values (or a list) must all agree; anything else cannot be framed.
                long? agreed = null;
                foreach (string element in HttpFieldSyntax.SplitList(lengths))
                {
                    if (!long.TryParse(element, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ||
                        (agreed is { } earlier && earlier != value))
                    {
                        return Body.None;
                    }

                    agreed = value;
                }

                contentLength = agreed ?? 0;
                return Body.ContentLength;
            }

            return Body.UntilClose;
        }

        /// <summary>Reads body bytes as they are: first those already buffered, then from the connection.</summary>
        private async ValueTask<int> ReadRawAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            int buffered = _length - _position;
            if (buffered > 0)
            {
                int count = Math.Min(buffered, destination.Length);
                _buffer.AsSpan(_position, count).CopyTo(destination.Span);
                _position += count;
                return count;
            }

            return await _stream!.ReadAsync(destination, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>RFC 9112 §7.1: the data of a chunked body, chunk by chunk; extensions and trailers are skipped.</summary>
        private async ValueTask<int> ReadChunkedAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            while (true)
            {
                switch (_chunkState)
                {
                    case ChunkState.Size:
                        ReadOnlyMemory<byte> sizeLine = await ReadLineAsync(cancellationToken).ConfigureAwait(false);
                        _remaining = ParseChunkSize(sizeLine.Span);
                        _chunkState = _remaining == 0 ? ChunkState.Done : ChunkState.Data;
                        break;

                    case ChunkState.Data:
                        int read = await ReadRawAsync(destination[..(int)Math.Min(destination.Length, _remaining)], cancellationToken).ConfigureAwait(false);
                        if (read == 0)
                        {
                            return 0; // cut short
                        }

                        _remaining -= read;
                        if (_remaining == 0)
                        {
                            _chunkState = ChunkState.DataEnd;
                        }

                        return read;

                    case ChunkState.DataEnd:
                        if ((await ReadLineAsync(cancellationToken).ConfigureAwait(false)).Length != 0)
                        {
                            throw new InvalidDataException("A chunk's data is not followed by CRLF.");
                        }

                        _chunkState = ChunkState.Size;
                        break;

                    default:
                        return 0;
                }
            }
        }

        /// <summary>One CRLF-terminated line of the body (without the CRLF), at most <see cref="MaxChunkLineBytes"/> long.</summary>
        private async ValueTask<ReadOnlyMemory<byte>> ReadLineAsync(CancellationToken cancellationToken)
        {
            byte[] buffer = _buffer!;
            int searched = _position;
            while (true)
            {
                int lf = buffer.AsSpan(searched, _length - searched).IndexOf((byte)'\n');
                if (lf >= 0)
                {
                    int end = searched + lf;
                    if (end == _position || buffer[end - 1] != (byte)'\r')
                    {
                        throw new InvalidDataException("A chunked body line does not end in CRLF.");
                    }

                    var line = new ReadOnlyMemory<byte>(buffer, _position, end - 1 - _position);
                    _position = end + 1;
                    return line;
                }

                if (_length - _position >= MaxChunkLineBytes)
                {
                    throw new InvalidDataException("A chunked body line is too long.");
                }

                // Move what is left of the line to the front, then read more behind it.
                searched = _length - _position;
                buffer.AsSpan(_position, searched).CopyTo(buffer);
                _position = 0;
                _length = searched;
                int read = await _stream!.ReadAsync(buffer.AsMemory(_length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new EndOfStreamException("The chunked body ended inside a line.");
                }

                _length += read;
            }
        }

        /// <summary>RFC 9112 §7.1: <c>chunk-size [ chunk-ext ]</c>, the size in hexadecimal.</summary>
        private static long ParseChunkSize(ReadOnlySpan<byte> line)
        {
            int end = line.IndexOfAny((byte)';', (byte)' ', (byte)'\t');
            ReadOnlySpan<byte> digits = end < 0 ? line : line[..end];
            if (digits.IsEmpty || digits.Length > 15 ||
                !long.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long size))
            {
                throw new InvalidDataException("A chunk size is not a hexadecimal number.");
            }

            return size;
        }

        private static WebSocketConnectException InvalidHttp(Uri uri, string error) =>
            InvalidHandshake.Create($"The server at {WebSocketUriRules.Endpoint(uri)} answered with invalid HTTP: {error}.");
    }
}
