using Duplex.Handshake.Rules;

namespace Duplex.Handshake.Transports;

/// <summary>Reading the start of a rejection's body as its head frames it.</summary>
internal sealed partial class SocketWebSocketTransport
{
    private sealed partial class Exchange
    {
        /// <summary>The longest chunk-size line of a chunked rejection body that is read.</summary>
        private const int MaxChunkLineBytes = 1024;

        private enum ChunkState
        {
            Size,
            Data,
            DataEnd,
            Done,
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
                case Http11BodyFraming.ContentLength:
                    if (_remaining == 0)
                    {
                        return 0;
                    }

                    int read = await ReadRawAsync(buffer[..(int)Math.Min(buffer.Length, _remaining)], cancellationToken).ConfigureAwait(false);
                    _remaining -= read;
                    return read;

                case Http11BodyFraming.UntilClose:
                    return await ReadRawAsync(buffer, cancellationToken).ConfigureAwait(false);

                case Http11BodyFraming.Chunked:
                    return await ReadChunkedAsync(buffer, cancellationToken).ConfigureAwait(false);

                default:
                    return 0;
            }
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
                        _remaining = Http11BodyRules.ParseChunkSize(sizeLine.Span);
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
    }
}
