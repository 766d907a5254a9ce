using Duplex.Connection;
using Duplex.Tests.Client;
using Duplex.Tests.Conformance;

namespace Duplex.Tests.Connection;

/// <summary>An ended connection gives its send buffer back to the pool and keeps only the messages it never wrote, until they are taken.</summary>
public sealed class EndedConnectionBufferTests
{
    [Fact]
    public async Task ConnectionLost_WithUnwrittenMessages_ReturnsItsBuffers_AndHandsTheMessagesBackOnce()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.SendBufferLimit = 8 * 1024 * 1024);
        WebSocketConnection client = session.Client;

        // The server never reads: most of these stay in the send buffer behind the full socket.
        var messages = Enumerable.Range(0, 8).Select(i => Enumerable.Repeat((byte)i, 1024 * 1024).ToArray()).ToList();
        foreach (byte[] message in messages)
        {
            await client.SendBinaryAsync(message, session.Token);
        }

        Assert.True(client.HoldsSendBuffers);
        session.Raw.Abort();
        await client.Completion.WaitAsync(session.Token);

        // The writer lets go of the buffer once its failed write returns.
        await ClientTestKit.WaitUntilAsync(() => !client.HoldsSendBuffers, "the ended connection returned its send buffer");
        Assert.Equal(0, client.HeldSendBytes);

        IReadOnlyList<WebSocketMessage> unsent = client.TakeUnsentMessages();
        Assert.NotEmpty(unsent);
        Assert.True(unsent.Count < messages.Count, "Some messages must have reached the socket before the reset.");

        // The unsent ones are the last ones sent, intact and in order.
        for (int i = 0; i < unsent.Count; i++)
        {
            Assert.Equal(messages[messages.Count - unsent.Count + i], unsent[i].Data.ToArray());
        }

        Assert.Empty(client.TakeUnsentMessages());
    }
}
