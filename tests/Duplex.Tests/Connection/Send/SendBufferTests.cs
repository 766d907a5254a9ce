using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using Duplex.Connection.Send;
using Duplex.Protocol;

namespace Duplex.Tests.Connection.Send;

/// <summary>The send buffer as pure bookkeeping: frames, batches, owed Pongs and the messages handed back.</summary>
public sealed class SendBufferTests
{
    private static readonly SpanAction<byte, string> s_encode = static (destination, text) => Encoding.UTF8.GetBytes(text, destination);

    [Fact]
    public void Append_FramesComeOutMaskedInOrder_WithTheirPayloads()
    {
        var buffer = new SendBuffer();
        buffer.Append(Opcode.Text, fin: true, 5, "hello", s_encode, wholeMessage: true);
        buffer.Append(Opcode.Binary, fin: true, new byte[] { 1, 2, 3 }, wholeMessage: true);
        buffer.Append(Opcode.Ping, fin: true, "p"u8, wholeMessage: false);

        List<SendBuffer.Segment> batch = buffer.TakeBatch(out long ticket)!;

        Assert.Equal(3, ticket);
        List<(FrameHeader Header, byte[] Payload)> frames = ReadFrames(batch);
        Assert.Equal([Opcode.Text, Opcode.Binary, Opcode.Ping], frames.Select(f => f.Header.Opcode));
        Assert.All(frames, f => Assert.True(f.Header.Masked && f.Header.Fin));
        Assert.Equal("hello", Encoding.UTF8.GetString(frames[0].Payload));
        Assert.Equal(new byte[] { 1, 2, 3 }, frames[1].Payload);
        Assert.Equal("p", Encoding.UTF8.GetString(frames[2].Payload));
        Assert.NotEqual(frames[0].Header.MaskKey, frames[1].Header.MaskKey);
    }

    [Fact]
    public void BatchWritten_ReturnsTheArraysAndForgetsTheMessages()
    {
        var buffer = new SendBuffer();
        buffer.Append(Opcode.Binary, fin: true, new byte[100], wholeMessage: true);
        List<SendBuffer.Segment> batch = buffer.TakeBatch(out _)!;
        Assert.True(buffer.HoldsArrays);

        buffer.BatchWritten(batch);
        buffer.Idle();

        Assert.False(buffer.HoldsArrays);
        Assert.Equal(0, buffer.BufferedBytes);
        Assert.Empty(buffer.TakeUnsentMessages());
        Assert.Null(buffer.TakeBatch(out _));
    }

    [Fact]
    public void TakeUnsentMessages_AfterAPartlyWrittenBatch_HandsBackWhatNeverLeft_AsSent()
    {
        // 10 KB messages: two never share a 16 KiB segment, so each segment written is one message gone.
        var buffer = new SendBuffer();
        byte[][] payloads = [.. Enumerable.Range(0, 4).Select(i => Enumerable.Repeat((byte)(i + 1), 10_000).ToArray())];
        buffer.Append(Opcode.Binary, fin: true, payloads[0], wholeMessage: true);
        buffer.Append(Opcode.Text, fin: true, 10_000, new string('b', 10_000), s_encode, wholeMessage: true);
        List<SendBuffer.Segment> batch = buffer.TakeBatch(out _)!;
        buffer.SegmentWritten(); // the first message reached the stream, the second's write failed

        // Appended while the batch was in flight: never written either.
        buffer.Append(Opcode.Binary, fin: true, payloads[2], wholeMessage: true);
        buffer.Append(Opcode.Ping, fin: true, "x"u8, wholeMessage: false);

        List<UnsentMessage> unsent = buffer.TakeUnsentMessages();

        Assert.Equal(2, batch.Count);
        Assert.Equal(2, unsent.Count);
        Assert.Equal(WebSocketMessageType.Text, unsent[0].MessageType);
        Assert.Equal(new string('b', 10_000), Encoding.UTF8.GetString(unsent[0].Payload));
        Assert.Equal(WebSocketMessageType.Binary, unsent[1].MessageType);
        Assert.Equal(payloads[2], unsent[1].Payload);
        Assert.Empty(buffer.TakeUnsentMessages());

        buffer.Release();
        Assert.False(buffer.HoldsArrays);
        Assert.Equal(0, buffer.BufferedBytes);
    }

    [Fact]
    public void TakeUnsentMessages_LeavesOutTheFramesOfAFragmentedMessage_AndTakesEmptyMessages()
    {
        var buffer = new SendBuffer();
        buffer.Append(Opcode.Text, fin: false, "par"u8, wholeMessage: false);
        buffer.Append(Opcode.Continuation, fin: true, "t"u8, wholeMessage: false);
        buffer.Append(Opcode.Binary, fin: true, ReadOnlySpan<byte>.Empty, wholeMessage: true);

        // A fragmented send whose first frame is also its last looks like a whole message on the wire.
        buffer.Append(Opcode.Text, fin: true, "solo"u8, wholeMessage: false);

        List<UnsentMessage> unsent = buffer.TakeUnsentMessages();

        UnsentMessage only = Assert.Single(unsent);
        Assert.Equal(WebSocketMessageType.Binary, only.MessageType);
        Assert.Empty(only.Payload);
    }

    [Fact]
    public void ManyMessages_AcrossBatchesAndGrowth_ThoseNeverWrittenComeBackInOrder()
    {
        var buffer = new SendBuffer();
        for (int i = 0; i < 10; i++)
        {
            buffer.Append(Opcode.Binary, fin: true, new[] { (byte)i }, wholeMessage: true);
        }

        buffer.BatchWritten(buffer.TakeBatch(out _)!);

        // Across batches and segments; none of the first ten, written, is handed back.
        for (int i = 10; i < 110; i++)
        {
            buffer.Append(Opcode.Binary, fin: true, new[] { (byte)i }, wholeMessage: true);
            if (i == 50)
            {
                buffer.TakeBatch(out _);
            }
        }

        List<UnsentMessage> unsent = buffer.TakeUnsentMessages();

        Assert.Equal(Enumerable.Range(10, 100).Select(i => (byte)i), unsent.Select(m => m.Payload.Single()));
    }

    [Fact]
    public void TakeUnsentMessages_ACompressedMessage_ComesBackUncompressed_AndAWrittenOneLeavesNoCopy()
    {
        var buffer = new SendBuffer();
        byte[] written = "written before the failure"u8.ToArray();
        buffer.AppendCompressed(Opcode.Text, fin: true, FrameHeader.Rsv1, [0x2a, 0x01], written, wholeMessage: true);
        buffer.BatchWritten(buffer.TakeBatch(out _)!);

        // The wire bytes stand for compressed data; what comes back is the payload as it was given.
        byte[] original = "never written"u8.ToArray();
        buffer.AppendCompressed(Opcode.Text, fin: true, FrameHeader.Rsv1, [0xca, 0x4b, 0x2d], original, wholeMessage: true);
        buffer.Append(Opcode.Binary, fin: true, new byte[] { 7 }, wholeMessage: true);

        List<UnsentMessage> unsent = buffer.TakeUnsentMessages();

        Assert.Equal(2, unsent.Count);
        Assert.Equal(WebSocketMessageType.Text, unsent[0].MessageType);
        Assert.Equal(original, unsent[0].Payload);
        Assert.Equal(new byte[] { 7 }, unsent[1].Payload);
        (FrameHeader header, _) = ReadFrames(buffer.TakeBatch(out _)!)[0];
        Assert.Equal(FrameHeader.Rsv1, header.Rsv);
        buffer.Release();
        Assert.False(buffer.HoldsArrays);
    }

    [Fact]
    public void HeldBytes_CountsTheUncompressedCopyOfACompressedMessage_UntilItIsWritten()
    {
        var buffer = new SendBuffer();
        buffer.AppendCompressed(Opcode.Binary, fin: true, FrameHeader.Rsv1, new byte[10], new byte[1000], wholeMessage: true);
        buffer.Append(Opcode.Binary, fin: true, new byte[20], wholeMessage: true);

        // Frames 2 + 4 + 10 and 2 + 4 + 20, and the array the copy of the compressed one's 1000 bytes is kept in
        // (the pool rounds a rental up to a power of two).
        Assert.Equal(16 + 26, buffer.BufferedBytes);
        Assert.Equal(16 + 26 + 1024, buffer.HeldBytes);

        buffer.BatchWritten(buffer.TakeBatch(out _)!);
        Assert.Equal(0, buffer.HeldBytes);

        buffer.AppendCompressed(Opcode.Binary, fin: true, FrameHeader.Rsv1, new byte[10], new byte[500], wholeMessage: true);
        Assert.Single(buffer.TakeUnsentMessages());
        Assert.Equal(16, buffer.HeldBytes);
        buffer.Release();
        Assert.Equal(0, buffer.HeldBytes);
    }

    [Fact]
    public void OwedPong_OnlyTheLatestIsAppended_Once()
    {
        var buffer = new SendBuffer();
        buffer.OwePong("first"u8);
        buffer.OwePong("second"u8);
        Assert.True(buffer.OwesPong);

        buffer.AppendOwedPong();
        buffer.AppendOwedPong();

        Assert.False(buffer.OwesPong);
        (FrameHeader header, byte[] payload) = Assert.Single(ReadFrames(buffer.TakeBatch(out _)!));
        Assert.Equal(Opcode.Pong, header.Opcode);
        Assert.Equal("second", Encoding.UTF8.GetString(payload));
    }

    [Fact]
    public void BufferedBytes_CountsWholeFrames_AndALargeFrameGetsASegmentOfItsOwn()
    {
        var buffer = new SendBuffer();
        buffer.Append(Opcode.Binary, fin: true, new byte[10], wholeMessage: true);
        buffer.Append(Opcode.Binary, fin: true, new byte[100_000], wholeMessage: true);

        Assert.Equal(2 + 4 + 10 + 10 + 4 + 100_000, buffer.BufferedBytes);
        List<SendBuffer.Segment> batch = buffer.TakeBatch(out _)!;
        Assert.Equal(2, batch.Count);
        Assert.Equal(100_014, batch[1].Count);
    }

    private static List<(FrameHeader Header, byte[] Payload)> ReadFrames(List<SendBuffer.Segment> segments)
    {
        var frames = new List<(FrameHeader, byte[])>();
        foreach (SendBuffer.Segment segment in segments)
        {
            ReadOnlySpan<byte> bytes = segment.Array.AsSpan(0, segment.Count);
            while (!bytes.IsEmpty)
            {
                Assert.Equal(OperationStatus.Done, FrameHeader.TryRead(bytes, out FrameHeader header, out int headerLength, out _));
                byte[] payload = bytes.Slice(headerLength, (int)header.PayloadLength).ToArray();
                PayloadMask.Apply(payload, header.MaskKey, 0);
                frames.Add((header, payload));
                bytes = bytes.Slice(headerLength + (int)header.PayloadLength);
            }
        }

        return frames;
    }
}
