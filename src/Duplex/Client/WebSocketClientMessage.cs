using System.Diagnostics.CodeAnalysis;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Duplex.Client;

/// <summary>
/// A message received by a <see cref="WebSocketClient"/>: its type, its text or bytes, and — when the
/// text is a JSON object or array — its parsed JSON.
/// </summary>
/// <remarks>
/// A small value: receiving a message allocates nothing besides its text (or bytes). The JSON is parsed
/// on first use of <see cref="Json"/> and shared by every handler of the same message; a copy read
/// later, after newer messages arrived, parses again when asked.
/// </remarks>
public readonly struct WebSocketClientMessage : IEquatable<WebSocketClientMessage>
{
    private readonly JsonCache? _cache;
    private readonly long _sequence;

    /// <summary>Creates a message (for tests and for subclasses that synthesize messages).</summary>
    /// <param name="messageType">Text or Binary.</param>
    /// <param name="text">The text of a Text message.</param>
    /// <param name="data">The bytes of a Binary message.</param>
    public WebSocketClientMessage(WebSocketMessageType messageType, string? text, ReadOnlyMemory<byte> data)
        : this(messageType, text, data, new JsonCache(), 0)
    {
    }

    internal WebSocketClientMessage(WebSocketMessageType messageType, string? text, ReadOnlyMemory<byte> data, JsonCache cache, long sequence)
    {
        if (messageType == WebSocketMessageType.Text && text is null)
        {
            throw new ArgumentNullException(nameof(text), "A text message needs its text.");
        }

        if (messageType is not (WebSocketMessageType.Text or WebSocketMessageType.Binary))
        {
            throw new ArgumentOutOfRangeException(nameof(messageType), messageType, "A received message is Text or Binary.");
        }

        MessageType = messageType;
        Text = text;
        Data = data;
        _cache = cache;
        _sequence = sequence;
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
            if (Text is null)
            {
                return null;
            }

            if (_cache?.TryGet(_sequence, out JsonElement? cached) == true)
            {
                return cached;
            }

            JsonElement? parsed = TryParseJson(Text);
            _cache?.Set(_sequence, parsed);
            return parsed;
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
    /// <param name="options">Serializer options; null for the receiving client's
    /// <see cref="WebSocketClientOptions.JsonSerializerOptions"/>, whose default is
    /// <see cref="JsonSerializerOptions.Web"/> (camelCase, case-insensitive).</param>
    /// <exception cref="JsonException">The payload is not valid JSON for <typeparamref name="T"/>.</exception>
    [RequiresUnreferencedCode("Reflection-based JSON; use the JsonTypeInfo overload for trimming and AOT.")]
    [RequiresDynamicCode("Reflection-based JSON; use the JsonTypeInfo overload for trimming and AOT.")]
    public T? Deserialize<T>(JsonSerializerOptions? options = null)
    {
        options ??= _cache?.SerializerOptions ?? JsonSerializerOptions.Web;
        return Text is not null ? JsonSerializer.Deserialize<T>(Text, options) : JsonSerializer.Deserialize<T>(Data.Span, options);
    }

    /// <summary>Whether two messages have the same type, the same text and the same bytes (by reference).</summary>
    /// <param name="left">A message.</param>
    /// <param name="right">Another message.</param>
    public static bool operator ==(WebSocketClientMessage left, WebSocketClientMessage right) => left.Equals(right);

    /// <summary>Whether two messages differ.</summary>
    /// <param name="left">A message.</param>
    /// <param name="right">Another message.</param>
    public static bool operator !=(WebSocketClientMessage left, WebSocketClientMessage right) => !left.Equals(right);

    /// <inheritdoc />
    public bool Equals(WebSocketClientMessage other) =>
        MessageType == other.MessageType && string.Equals(Text, other.Text, StringComparison.Ordinal) && Data.Equals(other.Data);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is WebSocketClientMessage other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(MessageType, Text, Data);

    /// <inheritdoc />
    public override string ToString() => Text ?? $"Binary ({Data.Length} bytes)";

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

    /// <summary>
    /// The most recently parsed JSON of one client's messages, by message number: the handlers of one
    /// message share one parse without a per-message object. Replaced atomically, so a reader on
    /// another thread sees either a whole entry or none.
    /// </summary>
    internal sealed class JsonCache(JsonSerializerOptions? serializerOptions = null)
    {
        private Entry? _last;

        /// <summary>The receiving client's options for reflection-based deserialization; null for the web defaults.</summary>
        public JsonSerializerOptions? SerializerOptions { get; } = serializerOptions;

        public bool TryGet(long sequence, out JsonElement? json)
        {
            Entry? last = Volatile.Read(ref _last);
            if (last is not null && last.Sequence == sequence)
            {
                json = last.Json;
                return true;
            }

            json = null;
            return false;
        }

        public void Set(long sequence, JsonElement? json) => Volatile.Write(ref _last, new Entry(sequence, json));

        private sealed record Entry(long Sequence, JsonElement? Json);
    }
}
