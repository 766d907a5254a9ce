using System.IO.Compression;
using System.Net.WebSockets;
using System.Text;
using Duplex.Connection.Compression;

namespace Duplex.Tests.Connection.Compression;

/// <summary>The inflater alone, fed the bytes of compressed messages as the receive loop queues them.</summary>
public sealed class MessageInflaterTests
{
    [Fact]
    public void AppendWhole_MessagesEndedWithAFinalBlock_EachInflatesWhole_WithContextTakeover()
    {
        // RFC 7692 §7.2.3.4: a sender may end a message's data with a final block; the next message then
        // starts a new DEFLATE stream.
        var inflater = new MessageInflater(1024 * 1024, noContextTakeover: false, violation => new InvalidOperationException(violation.ToString()));

        foreach (string text in new[] { "hello hello hello", "the second message", "and a third" })
        {
            byte[] compressed = DeflateWithFinalBlock(text);
            inflater.AppendWhole(compressed, 0, compressed.Length, endOfMessage: true, WebSocketMessageType.Text);

            Assert.Equal(text, inflater.TakeMessage(WebSocketMessageType.Text).Text);
        }
    }

    private static byte[] DeflateWithFinalBlock(string text)
    {
        using var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }
}
