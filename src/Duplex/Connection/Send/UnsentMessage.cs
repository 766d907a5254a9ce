using System.Net.WebSockets;

namespace Duplex.Connection.Send;

/// <summary>A whole message a connection accepted and never wrote: its type and its payload as sent (UTF-8 for text).</summary>
internal readonly record struct UnsentMessage(WebSocketMessageType MessageType, byte[] Payload);
