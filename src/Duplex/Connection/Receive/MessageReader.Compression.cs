using System.Net.WebSockets;

namespace Duplex.Connection.Receive;

internal sealed partial class MessageReader
{
    /// <summary>
    /// A piece of a compressed message (RFC 7692 §6.2): inflated whole into the inflater's message;
    /// true with the message once its last piece is in.
    /// </summary>
    private bool TakeCompressedPiece(ReceivedBatch batch, ReceivedBatch.Piece piece, out WebSocketMessage message)
    {
        inflater!.AppendWhole(piece.Array, piece.Offset + batch.NextOffset, piece.Count - batch.NextOffset, piece.EndOfMessage, piece.Type);
        AdvancePiece(batch);
        if (piece.EndOfMessage)
        {
            message = inflater.TakeMessage(piece.Type);
            return true;
        }

        message = default;
        return false;
    }

    /// <summary>
    /// As much of a compressed message as fits into <paramref name="destination"/>, inflated from the
    /// current piece and, when that piece gives nothing more, from the next ones already received. A
    /// piece stays current until everything it holds is out, so output the inflater keeps back for a
    /// small buffer is delivered by the next call. The count is 0 only when the pieces received so far
    /// inflate to nothing yet.
    /// </summary>
    private ValueWebSocketReceiveResult CopyCompressedPiece(ReceivedBatch batch, ReceivedBatch.Piece piece, Span<byte> destination)
    {
        int total = 0;
        while (true)
        {
            total += inflater!.Inflate(
                piece.Array, piece.Offset + batch.NextOffset, piece.Count - batch.NextOffset, piece.EndOfMessage, piece.Type,
                destination.Slice(total), out int consumed, out bool pieceDone);
            batch.NextOffset += consumed;
            if (!pieceDone)
            {
                return new ValueWebSocketReceiveResult(total, piece.Type, endOfMessage: false);
            }

            AdvancePiece(batch);
            if (piece.EndOfMessage || total > 0 || (!HasPiece && !TryTakeQueuedBatch()))
            {
                return new ValueWebSocketReceiveResult(total, piece.Type, piece.EndOfMessage);
            }

            batch = _batch!;
            piece = batch.Pieces[batch.Next];
        }
    }
}
