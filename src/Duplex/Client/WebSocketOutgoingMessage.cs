using System.Net.WebSockets;

namespace Duplex.Client;

/// <summary>A message the application asked to send, as the outbox holds it.</summary>
public class WebSocketOutgoingMessage
{
    internal WebSocketOutgoingMessage(WebSocketMessageType messageType, string? text, ReadOnlyMemory<byte> data)
    {
        MessageType = messageType;
        Text = text;
        Data = data;
    }

    /// <summary>Text or Binary (JSON goes out as Text).</summary>
    public WebSocketMessageType MessageType { get; }

    /// <summary>The text, when it was sent as a string.</summary>
    public string? Text { get; }

    /// <summary>The bytes, when it was sent as bytes (UTF-8 for text and JSON).</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The payload length in bytes (for text, its UTF-8 length).</summary>
    public int Length => Text is null ? Data.Length : System.Text.Encoding.UTF8.GetByteCount(Text);
}
