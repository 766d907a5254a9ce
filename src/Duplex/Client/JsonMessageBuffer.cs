using System.Buffers;
using System.Text.Json;

namespace Duplex.Client;

/// <summary>
/// Where <c>SendJsonAsync</c> serializes a value: a growable buffer of pooled arrays with its own
/// <see cref="Utf8JsonWriter"/>, one kept per thread, so a JSON send that goes straight to the
/// connection (which copies the bytes into its send buffer at once) allocates nothing. The writer
/// is made for one <see cref="JsonSerializerOptions"/> instance, with the formatting that
/// <see cref="JsonSerializer.SerializeToUtf8Bytes{TValue}(TValue, JsonSerializerOptions?)"/> would use.
/// </summary>
internal sealed class JsonMessageBuffer : IBufferWriter<byte>
{
    private const int InitialSize = 512;

    [ThreadStatic]
    private static JsonMessageBuffer? t_cached;

    private readonly JsonSerializerOptions _options;
    private byte[] _array = [];
    private int _written;

    private JsonMessageBuffer(JsonSerializerOptions options)
    {
        _options = options;
        Writer = new Utf8JsonWriter(this, new JsonWriterOptions
        {
            Encoder = options.Encoder,
            Indented = options.WriteIndented,
            IndentCharacter = options.IndentCharacter,
            IndentSize = options.IndentSize,
            NewLine = options.NewLine,

            // The serializer's own depth limit (64 unless set) is what SerializeToUtf8Bytes applies.
            MaxDepth = options.MaxDepth == 0 ? 64 : options.MaxDepth,
            SkipValidation = true,
        });
    }

    /// <summary>The writer to serialize into; flushed by the serializer when it is done.</summary>
    public Utf8JsonWriter Writer { get; }

    /// <summary>The serialized bytes; valid until <see cref="Return"/>.</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _array.AsMemory(0, _written);

    /// <summary>This thread's buffer when it was made for <paramref name="options"/>, otherwise a new one.</summary>
    public static JsonMessageBuffer Rent(JsonSerializerOptions options)
    {
        JsonMessageBuffer? buffer = t_cached;
        if (buffer is not null && ReferenceEquals(buffer._options, options))
        {
            // Taken out while in use: a serializer that sends JSON from inside a converter gets a buffer of its own.
            t_cached = null;
            buffer.Writer.Reset(buffer);
            return buffer;
        }

        return new JsonMessageBuffer(options);
    }

    /// <summary>
    /// Done with the bytes: the array goes back to the pool (a thread keeps no buffer between sends,
    /// only the writer), and the writer is kept for the next JSON send on this thread.
    /// </summary>
    public void Return()
    {
        if (_array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_array);
            _array = [];
        }

        _written = 0;
        t_cached = this;
    }

    /// <inheritdoc />
    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _array.Length - _written);
        _written += count;
    }

    /// <inheritdoc />
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Grow(sizeHint);
        return _array.AsMemory(_written);
    }

    /// <inheritdoc />
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Grow(sizeHint);
        return _array.AsSpan(_written);
    }

    private void Grow(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_array.Length - _written >= needed)
        {
            return;
        }

        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(InitialSize, Math.Max(_written + needed, _array.Length * 2)));
        _array.AsSpan(0, _written).CopyTo(bigger);
        if (_array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_array);
        }

        _array = bigger;
    }
}
