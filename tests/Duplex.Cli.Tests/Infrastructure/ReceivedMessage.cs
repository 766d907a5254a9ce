using System.Net.WebSockets;
using System.Text;

namespace Duplex.Cli.Tests.Infrastructure;

/// <summary>A message the in-process server received.</summary>
public sealed record ReceivedMessage(WebSocketMessageType Type, byte[] Data)
{
    public string Text => Encoding.UTF8.GetString(Data);
}
