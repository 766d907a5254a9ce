using System.Net.WebSockets;

namespace Duplex.Connection;

/// <summary>
/// A whole received message: text as a <see cref="string"/>, binary as bytes, or the peer's Close.
/// </summary>
public readonly struct WebSocketMessage
{
    private WebSocketMessage(WebSocketMessageType messageType, string? text, ReadOnlyMemory<byte> data, WebSocketCloseStatus? closeStatus, string? closeDescription)
    {
        MessageType = messageType;
        Text = text;
        Data = data;
        CloseStatus = closeStatus;
        CloseStatusDescription = closeDescription;
    }

    /// <summary>Text, Binary, or Close once the peer closed the connection cleanly.</summary>
    public WebSocketMessageType MessageType { get; }

    /// <summary>The text of a Text message; null for other types.</summary>
    public string? Text { get; }

    /// <summary>The bytes of a Binary message; empty for other types.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>For a Close: the peer's status code, or null when it sent none (1005).</summary>
    public WebSocketCloseStatus? CloseStatus { get; }

    /// <summary>For a Close: the peer's reason.</summary>
    public string? CloseStatusDescription { get; }

    /// <summary>Whether this marks the end of the connection rather than a message.</summary>
    public bool IsClose => MessageType == WebSocketMessageType.Close;

    /// <summary>A text message.</summary>
    /// <param name="text">The message text.</param>
    public static WebSocketMessage FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new(WebSocketMessageType.Text, text, default, null, null);
    }

    /// <summary>A binary message.</summary>
    /// <param name="data">The message bytes.</param>
    public static WebSocketMessage FromBinary(ReadOnlyMemory<byte> data) => new(WebSocketMessageType.Binary, null, data, null, null);

    /// <summary>The marker for a clean close by the peer.</summary>
    /// <param name="status">The peer's status code, or null when it sent none.</param>
    /// <param name="description">The peer's reason.</param>
    public static WebSocketMessage FromClose(WebSocketCloseStatus? status, string? description) =>
        new(WebSocketMessageType.Close, null, default, status, description);

    /// <inheritdoc />
    public override string ToString() => MessageType switch
    {
        WebSocketMessageType.Text => $"Text ({Text!.Length} chars)",
        WebSocketMessageType.Binary => $"Binary ({Data.Length} bytes)",
        _ => $"Close ({(CloseStatus is { } s ? (int)s : 1005)})",
    };
}
