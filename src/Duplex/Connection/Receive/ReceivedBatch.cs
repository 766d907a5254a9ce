using System.Buffers;
using System.Net.WebSockets;

namespace Duplex.Connection.Receive;

/// <summary>
/// One network read's worth of received message data, handed from the receive loop to the
/// application as a single queue item. Small messages stay where they were read: a piece points
/// into the read buffer, so a 64-byte text message costs no copy and no queue operation of its own.
/// Pieces of messages that span reads are copied into pooled chunks the batch owns. The consumer
/// walks the pieces in order and gives every buffer back to the pool when done.
/// </summary>
internal sealed class ReceivedBatch
{
    private const int InitialPieces = 16;

    public ReceivedBatch()
    {
        Pieces = ArrayPool<Piece>.Shared.Rent(InitialPieces);
    }

    /// <summary>
    /// A batch for the next read: <paramref name="spare"/> (taken, so no other reader gets it) when the
    /// consumer has given one back, otherwise a new one. Recycling keeps a stream of large messages,
    /// one per read, from allocating a batch per message.
    /// </summary>
    public static ReceivedBatch Take(ref ReceivedBatch? spare)
    {
        ReceivedBatch? recycled = Interlocked.Exchange(ref spare, null);
        if (recycled is null)
        {
            return new ReceivedBatch();
        }

        recycled.Pieces = ArrayPool<Piece>.Shared.Rent(InitialPieces);
        return recycled;
    }

    /// <summary>
    /// <see cref="Release"/>s <paramref name="batch"/> and keeps it in <paramref name="spare"/> for
    /// <see cref="Take"/> (without its piece array, so a spare holds no buffer).
    /// </summary>
    public static void Recycle(ReceivedBatch batch, ref ReceivedBatch? spare)
    {
        batch.Release();
        batch.NextOffset = 0;
        batch.NextInQueue = null;
        Volatile.Write(ref spare, batch);
    }

    /// <summary>The read buffer the in-place pieces point into, if any; returned to the pool with the batch.</summary>
    public byte[]? ReadBuffer { get; set; }

    public Piece[] Pieces { get; private set; }

    public int Count { get; private set; }

    /// <summary>The consumer's position: the next piece to read.</summary>
    public int Next { get; set; }

    /// <summary>How far into <see cref="Pieces"/>[<see cref="Next"/>] the consumer has read.</summary>
    public int NextOffset { get; set; }

    public bool IsConsumed => Next >= Count;

    /// <summary>The batch queued after this one (<see cref="ReceiveQueue"/> links its batches).</summary>
    public ReceivedBatch? NextInQueue { get; set; }

    public void Add(in Piece piece)
    {
        if (Count == Pieces.Length)
        {
            Piece[] bigger = ArrayPool<Piece>.Shared.Rent(Count * 2);
            Pieces.AsSpan(0, Count).CopyTo(bigger);
            ArrayPool<Piece>.Shared.Return(Pieces, clearArray: true);
            Pieces = bigger;
        }

        Pieces[Count++] = piece;
    }

    /// <summary>Gives every buffer back to the pool; the batch must not be used afterwards.</summary>
    public void Release()
    {
        for (int i = Next; i < Count; i++)
        {
            if (Pieces[i].Owned)
            {
                ArrayPool<byte>.Shared.Return(Pieces[i].Array);
            }
        }

        if (ReadBuffer is not null)
        {
            ArrayPool<byte>.Shared.Return(ReadBuffer);
            ReadBuffer = null;
        }

        ArrayPool<Piece>.Shared.Return(Pieces, clearArray: true);
        Pieces = [];
        Count = 0;
        Next = 0;
    }

    /// <summary>A contiguous piece of one message.</summary>
    /// <param name="Array">The read buffer (in place) or a pooled chunk the batch owns.</param>
    /// <param name="Offset">Where the piece starts in <paramref name="Array"/>.</param>
    /// <param name="Count">The piece's length.</param>
    /// <param name="Type">The message type.</param>
    /// <param name="EndOfMessage">Whether this piece ends its message.</param>
    /// <param name="Owned">Whether <paramref name="Array"/> is a chunk to give back once read.</param>
    /// <param name="Compressed">Whether the bytes are of a compressed message (RFC 7692), inflated as the application reads them.</param>
    internal readonly record struct Piece(byte[] Array, int Offset, int Count, WebSocketMessageType Type, bool EndOfMessage, bool Owned, bool Compressed = false)
    {
        public ReadOnlySpan<byte> Span => Array.AsSpan(Offset, Count);
    }
}
