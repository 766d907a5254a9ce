using System.Net.WebSockets;

namespace Duplex.Client;

/// <summary>A message the application asked to send, as the outbox holds it.</summary>
public class WebSocketOutgoingMessage
{
    private readonly bool _decodesText;
    private string? _text;

    internal WebSocketOutgoingMessage(WebSocketMessageType messageType, string? text, ReadOnlyMemory<byte> data, bool textAsBytes = false)
    {
        MessageType = messageType;
        _text = text;
        Data = data;
        _decodesText = textAsBytes && messageType == WebSocketMessageType.Text && text is null;
    }

    /// <summary>Text or Binary (JSON goes out as Text).</summary>
    public WebSocketMessageType MessageType { get; }

    /// <summary>
    /// The text, when it was sent as a string; also for a text message a failed connection handed back
    /// unsent (decoded from <see cref="Data"/> when first read: the message goes out again as the bytes
    /// encoded the first time).
    /// </summary>
    public string? Text => _text ??= _decodesText ? System.Text.Encoding.UTF8.GetString(Data.Span) : null;

    /// <summary>The text exactly as the sender gave it (null when it gave bytes); what the send path uses.</summary>
    internal string? SentText => _decodesText ? null : _text;

    /// <summary>The bytes, when it was sent as bytes (UTF-8 for text and JSON), or handed back unsent by a failed connection.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The payload length in bytes (for text, its UTF-8 length).</summary>
    public int Length => SentText is { } text ? System.Text.Encoding.UTF8.GetByteCount(text) : Data.Length;
}
