using System.Buffers;
using System.Globalization;
using Duplex.Handshake.Rules;

namespace Duplex.Handshake.Transports;

/// <summary>Reading the answer: the response head, and handing the connection over.</summary>
internal sealed partial class SocketWebSocketTransport
{
    /// <summary>
    /// A response read off the connection. Holds the (pooled) buffer the head was read into, which
    /// may also hold what followed the head: WebSocket frames after a 101, or the start of a body.
    /// </summary>
    private sealed partial class Exchange : HandshakeExchange
    {
        private Stream? _stream;
        private CancellationTokenRegistration _abort;
        private byte[]? _buffer;
        private int _position;
        private int _length;
        private Http11BodyFraming _body;
        private long _remaining;
        private ChunkState _chunkState;

        /// <summary>Whether the stream's calls block (<see cref="BlockingNetworkStream"/>), which the connection is told.</summary>
        public bool Blocking { get; set; }

        private Exchange(Http11ResponseHead head, string expectedAccept, Stream stream, CancellationTokenRegistration abort, byte[] buffer, int position, int length)
            : base(head.StatusCode, head.ReasonPhrase, head.Version, head.Headers, expectedAccept)
        {
            _stream = stream;
            _abort = abort;
            _buffer = buffer;
            _position = position;
            _length = length;
            _body = Http11BodyRules.GetFraming(head, out _remaining);
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
            return new WebSocketHandshakeResult(stream, response) { DisposingStreamEndsReads = true, Blocking = Blocking };
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

        private static WebSocketConnectException InvalidHttp(Uri uri, string error) =>
            InvalidHandshake.Create($"The server at {WebSocketUriRules.Endpoint(uri)} answered with invalid HTTP: {error}.");
    }
}
