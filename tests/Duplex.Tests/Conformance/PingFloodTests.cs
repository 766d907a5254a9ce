using System.Buffers.Binary;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// A server that floods Pings and never reads what the client writes: the Pongs owed must not pile up
/// in the client's send buffer. They fill it up to its limit like any frame; past it, RFC 6455 §5.5.3
/// lets an endpoint answer only the most recent Ping, so the client keeps one Pong owed (overwritten
/// by each newer Ping).
/// </summary>
public sealed class PingFloodTests
{
    private const int Pings = 200_000;
    private const int PingsPerWrite = 1_000;
    private const int SendBufferLimit = 64 * 1024;

    // A Pong with the largest control payload: 2 header bytes, 4 mask bytes, 125 payload bytes.
    private const int LargestPongFrame = 2 + 4 + 125;

    [Fact]
    public async Task PingFlood_ServerNeverReads_SendBufferStaysWithinItsLimit_AndTheLatestPingIsAnswered()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.SendBufferLimit = SendBufferLimit, TimeSpan.FromSeconds(60));

        // 200,000 Pings of 125 bytes: 26 MB of Pongs owed, far more than the kernel's socket buffers
        // take, so the client's writes block long before the flood ends.
        var payload = new byte[125];
        for (int written = 0; written < Pings; written += PingsPerWrite)
        {
            using var batch = new MemoryStream();
            for (int i = written; i < written + PingsPerWrite; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(payload, i);
                batch.Write(RawConnection.Frame(0x9, payload));
            }

            await session.Raw.WriteRawAsync(batch.ToArray(), session.Token);
        }

        // The text is read after every Ping before it was processed.
        await session.Raw.SendTextAsync("end", session.Token);
        await session.ExpectTextAsync("end");
        long buffered = session.Client.HeldSendBytes;
        // Under the limit a Pong is appended (it may cross the limit by itself); past it, the one Pong
        // owed is appended when the writer takes its next batch: at most two Pongs beyond the limit.
        Assert.True(buffered <= SendBufferLimit + (2 * LargestPongFrame), $"The client buffered {buffered} bytes of Pongs for a peer that does not read.");

        // Once the server reads, the Pongs arrive in order and the last one answers the last Ping.
        int pongs = 0;
        int lastAnswered = -1;
        while (lastAnswered != Pings - 1)
        {
            RawFrame pong = await session.ReadClientFrameAsync(0xA);
            int answered = BinaryPrimitives.ReadInt32BigEndian(pong.Payload);
            Assert.True(answered > lastAnswered, $"Pong for Ping {answered} came after the Pong for Ping {lastAnswered}.");
            lastAnswered = answered;
            pongs++;
        }

        Assert.True(pongs < Pings, "Every Ping was answered although the client could not write.");
        await session.RoundTripPingAsync();
    }
}
