using System.Net.WebSockets;
using System.Text;

namespace Duplex.Tests.Infrastructure;

/// <summary>One whole message received on a BCL <see cref="WebSocket"/>, or the close that ended the stream.</summary>
/// <param name="Type">Text, binary, or close.</param>
/// <param name="Payload">The message bytes (empty for a close).</param>
/// <param name="CloseStatus">The peer's close status when <paramref name="Type"/> is close.</param>
/// <param name="CloseStatusDescription">The peer's close reason when <paramref name="Type"/> is close.</param>
public sealed record ReceivedMessage(
    WebSocketMessageType Type,
    byte[] Payload,
    WebSocketCloseStatus? CloseStatus = null,
    string? CloseStatusDescription = null)
{
    /// <summary>The payload decoded as UTF-8.</summary>
    public string Text => Encoding.UTF8.GetString(Payload);
}
