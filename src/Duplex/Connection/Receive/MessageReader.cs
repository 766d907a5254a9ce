using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Duplex.Connection.Compression;

namespace Duplex.Connection.Receive;

/// <summary>
/// The application's side of the receive queue: the batch being read, the place in it, and the
/// pieces of a message that spans batches, gathered until the message is whole. One receive call at
/// a time (<see cref="Enter"/>); it never waits itself, so its owner decides how to wait.
/// </summary>
internal sealed partial class MessageReader(ReceiveQueue queue, MessageInflater? inflater = null)
{
    private int _receiving;
    private ReceivedBatch? _batch;
    private byte[]? _assembly;
    private int _assemblyCount;

    /// <summary>Whether the current batch still has a piece to read.</summary>
    public bool HasPiece => _batch is { IsConsumed: false };

    /// <summary>Starts a receive call; throws when another is in progress.</summary>
    public void Enter()
    {
        if (Interlocked.Exchange(ref _receiving, 1) != 0)
        {
            throw new InvalidOperationException("Another receive is already in progress on this connection.");
        }
    }

    /// <summary>
    /// The connection ended and nothing is left in the queue: the inflater's zlib state and any message
    /// it was assembling go now, unless a receive call is in progress (then the finalizer frees them).
    /// </summary>
    public void ReleaseInflater()
    {
        if (inflater is null || Interlocked.CompareExchange(ref _receiving, 1, 0) != 0)
        {
            return;
        }

        try
        {
            if (!HasPiece && queue.IsEmpty)
            {
                inflater.Release();
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Ends the receive call.</summary>
    public void Exit() => Volatile.Write(ref _receiving, 0);

    /// <summary>
    /// Takes the next whole message from the current batch and, as it runs out, from batches already
    /// queued, without waiting; false when the rest of the message (or any message) is still to come.
    /// Pieces of a message spread over batches gather in the assembly buffer meanwhile.
    /// </summary>
    public bool TryTakeMessage(out WebSocketMessage message)
    {
        while (true)
        {
            if (!HasPiece)
            {
                if (!TryTakeQueuedBatch())
                {
                    message = default;
                    return false;
                }

                continue;
            }

            ReceivedBatch batch = _batch!;
            ReceivedBatch.Piece piece = batch.Pieces[batch.Next];
            if (piece.Compressed)
            {
                if (TakeCompressedPiece(batch, piece, out message))
                {
                    return true;
                }

                continue;
            }

            ReadOnlySpan<byte> rest = piece.Span.Slice(batch.NextOffset);
            if (piece.EndOfMessage && _assemblyCount == 0)
            {
                // The common case: the whole message is one piece; only the result allocates.
                message = Materialize(piece.Type, rest);
                AdvancePiece(batch);
                return true;
            }

            AppendToAssembly(rest);
            AdvancePiece(batch);
            if (piece.EndOfMessage)
            {
                message = Materialize(piece.Type, _assembly.AsSpan(0, _assemblyCount));
                ArrayPool<byte>.Shared.Return(_assembly!);
                _assembly = null;
                _assemblyCount = 0;
                return true;
            }
        }
    }

    /// <summary>Copies as much of the current piece as fits into <paramref name="buffer"/> (call when <see cref="HasPiece"/>).</summary>
    public ValueWebSocketReceiveResult CopyPiece(Memory<byte> buffer)
    {
        ReceivedBatch batch = _batch!;
        ReceivedBatch.Piece piece = batch.Pieces[batch.Next];
        if (piece.Compressed)
        {
            return CopyCompressedPiece(batch, piece, buffer.Span);
        }

        ReadOnlySpan<byte> rest = piece.Span.Slice(batch.NextOffset);
        int count = Math.Min(rest.Length, buffer.Length);
        rest.Slice(0, count).CopyTo(buffer.Span);
        bool end = false;
        if (count == rest.Length)
        {
            end = piece.EndOfMessage;
            AdvancePiece(batch);
        }
        else
        {
            batch.NextOffset += count;
        }

        return new ValueWebSocketReceiveResult(count, piece.Type, end);
    }

    /// <summary>Gives the current batch back to the writer and makes the next queued one current; false when none is queued.</summary>
    public bool TryTakeQueuedBatch()
    {
        Recycle();
        if (!queue.TryRead(out ReceivedBatch? next))
        {
            return false;
        }

        _batch = next;
        return true;
    }

    /// <summary>Gives the batch the reader is done with back to the receive loop, for its next read.</summary>
    public void Recycle()
    {
        if (_batch is not null)
        {
            ReceivedBatch.Recycle(_batch, ref queue.SpareBatch);
            _batch = null;
        }
    }

    /// <summary>
    /// Moves past the current piece; a batch read to its end goes back at once, so a connection that
    /// goes quiet after a message holds neither its read buffer nor its chunks.
    /// </summary>
    private void AdvancePiece(ReceivedBatch batch)
    {
        ReceivedBatch.Piece piece = batch.Pieces[batch.Next];
        if (piece.Owned)
        {
            ArrayPool<byte>.Shared.Return(piece.Array);
        }

        batch.Next++;
        batch.NextOffset = 0;
        if (batch.IsConsumed)
        {
            Recycle();
        }
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
}
