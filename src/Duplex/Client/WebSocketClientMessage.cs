using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Duplex.Client;

/// <summary>
/// A message received by a <see cref="WebSocketClient"/>: its type, its text or bytes, and — when the
/// text is a JSON object or array — its parsed JSON.
/// </summary>
public sealed class WebSocketClientMessage
{
    private JsonElement? _json;
    private bool _jsonParsed;

    /// <summary>Creates a message (for tests and for subclasses that synthesize messages).</summary>
    /// <param name="messageType">Text or Binary.</param>
    /// <param name="text">The text of a Text message.</param>
    /// <param name="data">The bytes of a Binary message.</param>
    public WebSocketClientMessage(WebSocketMessageType messageType, string? text, ReadOnlyMemory<byte> data)
    {
        if (messageType == WebSocketMessageType.Text && text is null)
        {
            throw new ArgumentNullException(nameof(text), "A text message needs its text.");
        }

        MessageType = messageType;
        Text = text;
        Data = data;
    }

    /// <summary>Text or Binary.</summary>
    public WebSocketMessageType MessageType { get; }

    /// <summary>The text of a Text message; null for Binary.</summary>
    public string? Text { get; }

    /// <summary>The bytes of a Binary message; empty for Text.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Whether this is a Text message.</summary>
    public bool IsText => MessageType == WebSocketMessageType.Text;

    /// <summary>
    /// The parsed JSON when the text is a JSON object or array; null otherwise (binary, plain text, or
    /// text that only looks like JSON). Parsed once, on first use.
    /// </summary>
    public JsonElement? Json
    {
        get
        {
            if (!_jsonParsed)
            {
                _json = TryParseJson(Text);
                _jsonParsed = true;
            }

            return _json;
        }
    }

    /// <summary>Whether the text is a JSON object or array.</summary>
    public bool IsJson => Json is not null;

    /// <summary>Deserializes the text (or bytes) as JSON with source-generated metadata (trimming and AOT safe).</summary>
    /// <typeparam name="T">The target type.</typeparam>
    /// <param name="jsonTypeInfo">The metadata, e.g. <c>MyContext.Default.MyType</c>.</param>
    /// <exception cref="JsonException">The payload is not valid JSON for <typeparamref name="T"/>.</exception>
    public T? Deserialize<T>(JsonTypeInfo<T> jsonTypeInfo)
    {
        ArgumentNullException.ThrowIfNull(jsonTypeInfo);
        return Text is not null ? JsonSerializer.Deserialize(Text, jsonTypeInfo) : JsonSerializer.Deserialize(Data.Span, jsonTypeInfo);
    }

    /// <summary>Deserializes the text (or bytes) as JSON using reflection-based serialization.</summary>
    /// <typeparam name="T">The target type.</typeparam>
    /// <param name="options">Serializer options; null for the defaults.</param>
    /// <exception cref="JsonException">The payload is not valid JSON for <typeparamref name="T"/>.</exception>
    [RequiresUnreferencedCode("Reflection-based JSON; use the JsonTypeInfo overload for trimming and AOT.")]
    [RequiresDynamicCode("Reflection-based JSON; use the JsonTypeInfo overload for trimming and AOT.")]
    public T? Deserialize<T>(JsonSerializerOptions? options = null) =>
        Text is not null ? JsonSerializer.Deserialize<T>(Text, options) : JsonSerializer.Deserialize<T>(Data.Span, options);

    /// <inheritdoc />
    public override string ToString() => IsText ? Text! : $"Binary ({Data.Length} bytes)";

    private static JsonElement? TryParseJson(string? text)
    {
        if (text is null)
        {
            return null;
        }

        ReadOnlySpan<char> trimmed = text.AsSpan().TrimStart();
        if (trimmed.IsEmpty || (trimmed[0] != '{' && trimmed[0] != '['))
        {
            return null;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
