using System.Net.WebSockets;
using System.Text;
using Duplex.Connection.Receive;

namespace Duplex.Tests.Connection.Receive;

/// <summary>The application's side of the receive queue, fed batches by hand: no socket, no loop.</summary>
public sealed class MessageReaderTests
{
    [Fact]
    public void TryTakeMessage_WholeMessagesAndOneSpreadOverBatches_ComeOutWholeInOrder()
    {
        var queue = new ReceiveQueue(8);
        var reader = new MessageReader(queue);
        Assert.True(queue.TryWrite(Batch(("one", true), ("tw", false))));
        Assert.True(queue.TryWrite(Batch(("o", true))));

        Assert.True(reader.TryTakeMessage(out var first));
        Assert.True(reader.TryTakeMessage(out var second));
        Assert.False(reader.TryTakeMessage(out _));

        Assert.Equal("one", first.Text);
        Assert.Equal("two", second.Text);
    }

    [Fact]
    public void TryTakeMessage_TheRestNotArrivedYet_WaitsWithoutLosingThePiece()
    {
        var queue = new ReceiveQueue(8);
        var reader = new MessageReader(queue);
        Assert.True(queue.TryWrite(Batch(("hel", false))));

        Assert.False(reader.TryTakeMessage(out _));
        Assert.True(queue.TryWrite(Batch(("lo", true))));

        Assert.True(reader.TryTakeMessage(out var message));
        Assert.Equal("hello", message.Text);
    }

    [Fact]
    public void CopyPiece_ASmallBuffer_TakesThePieceInParts_EndOfMessageOnTheLast()
    {
        var queue = new ReceiveQueue(8);
        var reader = new MessageReader(queue);
        Assert.True(queue.TryWrite(Batch(("abcde", true))));
        Assert.True(reader.TryTakeQueuedBatch());
        byte[] buffer = new byte[2];
        var parts = new StringBuilder();
        ValueWebSocketReceiveResult result;
        do
        {
            Assert.True(reader.HasPiece);
            result = reader.CopyPiece(buffer);
            parts.Append(Encoding.UTF8.GetString(buffer, 0, result.Count)).Append('|');
        }
        while (!result.EndOfMessage);

        Assert.Equal("ab|cd|e|", parts.ToString());
        Assert.False(reader.HasPiece);
    }

    [Fact]
    public void Enter_ASecondReceiveAtOnce_IsRefused()
    {
        var reader = new MessageReader(new ReceiveQueue(1));
        reader.Enter();
        Assert.Throws<InvalidOperationException>(reader.Enter);
        reader.Exit();
        reader.Enter();
    }

    private static ReceivedBatch Batch(params (string Text, bool End)[] pieces)
    {
        var batch = new ReceivedBatch();
        foreach ((string text, bool end) in pieces)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            batch.Add(new ReceivedBatch.Piece(bytes, 0, bytes.Length, WebSocketMessageType.Text, end, Owned: false));
        }

        return batch;
    }
}
