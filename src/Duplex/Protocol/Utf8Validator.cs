using System.Buffers;
using System.Text;

namespace Duplex.Protocol;

/// <summary>
/// Streaming UTF-8 validation for text messages that arrive in pieces (RFC 6455 §8.1). A sequence
/// may be split anywhere, across reads or across fragments; validation fails as soon as the bytes
/// seen so far cannot begin valid UTF-8, not only at the end of the message (so a peer sending an
/// invalid prefix is stopped early). Mutable struct: keep it in a field, never copy it.
/// </summary>
internal struct Utf8Validator
{
    // Up to three bytes of a sequence that the last piece ended in the middle of.
    private uint _pending;
    private int _pendingCount;

    /// <summary>Whether an incomplete sequence is waiting for more bytes.</summary>
    public readonly bool HasIncompleteSequence => _pendingCount != 0;

    /// <summary>Forgets any incomplete sequence, for the next message.</summary>
    public void Reset()
    {
        _pending = 0;
        _pendingCount = 0;
    }

    /// <summary>
    /// Validates the next piece of a message. <paramref name="isFinal"/> marks the last piece,
    /// after which no sequence may be left incomplete. Returns false when the message so far is
    /// not a prefix of valid UTF-8.
    /// </summary>
    public bool Append(ReadOnlySpan<byte> data, bool isFinal)
    {
        if (_pendingCount == 0 && (isFinal || data.IsEmpty || data[^1] < 0x80))
        {
            // Nothing carried over and nothing to carry on (a final piece, or one ending in ASCII):
            // the piece is valid exactly when the BCL's vectorized check says so. The common case of
            // a whole small message costs only that check.
            return System.Text.Unicode.Utf8.IsValid(data);
        }

        if (_pendingCount != 0)
        {
            Span<byte> sequence = stackalloc byte[4];
            for (int i = 0; i < _pendingCount; i++)
            {
                sequence[i] = (byte)(_pending >> (i * 8));
            }

            int needed = SequenceLength(sequence[0]) - _pendingCount;
            int take = Math.Min(needed, data.Length);
            data.Slice(0, take).CopyTo(sequence.Slice(_pendingCount));
            OperationStatus status = Rune.DecodeFromUtf8(sequence.Slice(0, _pendingCount + take), out _, out _);
            if (status == OperationStatus.InvalidData)
            {
                return false;
            }

            if (status == OperationStatus.NeedMoreData)
            {
                Store(sequence.Slice(0, _pendingCount + take));
                return !isFinal;
            }

            _pendingCount = 0;
            _pending = 0;
            data = data.Slice(take);
        }

        int tail = IncompleteTailStart(data);
        if (!System.Text.Unicode.Utf8.IsValid(data.Slice(0, tail)))
        {
            return false;
        }

        if (tail == data.Length)
        {
            return true;
        }

        // A valid prefix of a multi-byte sequence reports NeedMoreData; an impossible one (an
        // overlong lead, a surrogate, a code point above U+10FFFF) reports InvalidData right away.
        if (Rune.DecodeFromUtf8(data.Slice(tail), out _, out _) == OperationStatus.InvalidData)
        {
            return false;
        }

        Store(data.Slice(tail));
        return !isFinal;
    }

    /// <summary>
    /// Where a multi-byte sequence that the data ends in the middle of starts, or the data's
    /// length when it ends on a sequence boundary (or in a way that full validation will reject).
    /// </summary>
    private static int IncompleteTailStart(ReadOnlySpan<byte> data)
    {
        int end = data.Length;
        int stop = Math.Max(0, end - 3);
        for (int i = end - 1; i >= stop; i--)
        {
            byte b = data[i];
            if ((b & 0xC0) == 0x80)
            {
                continue;
            }

            int length = SequenceLength(b);
            return length > end - i ? i : end;
        }

        return end;
    }

    /// <summary>The length a lead byte announces; 1 for ASCII, continuation and invalid bytes.</summary>
    private static int SequenceLength(byte lead) => lead switch
    {
        >= 0xC2 and <= 0xDF => 2,
        >= 0xE0 and <= 0xEF => 3,
        >= 0xF0 and <= 0xF4 => 4,
        _ => 1,
    };

    private void Store(ReadOnlySpan<byte> bytes)
    {
        uint pending = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            pending |= (uint)bytes[i] << (i * 8);
        }

        _pending = pending;
        _pendingCount = bytes.Length;
    }
}
