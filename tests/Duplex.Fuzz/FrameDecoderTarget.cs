using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using Duplex.Protocol;

namespace Duplex.Fuzz;

/// <summary>
/// <c>frame-decoder</c>: a server byte stream into <see cref="FrameDecoder"/>. The first input byte
/// picks the settings — bit 0 allows RSV1, bits 1–2 the message limit, bits 3–7 seed the random
/// chunking — and the rest is the stream.
/// </summary>
/// <remarks>
/// The stream is decoded whole, byte by byte and in seeded random chunks. Each run must keep the
/// decoder's promises at every call, end in events or in one violation carrying 1002, 1007 or 1009,
/// take at most one call per byte and piece, and report the same events and violation as the other
/// runs. Completed uncompressed text messages and Close reasons must be valid UTF-8.
/// </remarks>
internal static class FrameDecoderTarget
{
    private static readonly long[] s_limits = [1 << 24, 125, 16, 1];

    public static void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        byte settings = input[0];
        bool allowRsv1 = (settings & 1) != 0;
        long maxMessageSize = s_limits[(settings >> 1) & 3];
        ReadOnlySpan<byte> stream = input.AsSpan(1);

        string whole = Decode(stream, Chunks.Whole(stream.Length), maxMessageSize, allowRsv1);
        string byByte = Decode(stream, Chunks.ByteByByte(stream.Length), maxMessageSize, allowRsv1);
        string chunked = Decode(stream, Chunks.Seeded(stream.Length, (uint)(settings >> 3)), maxMessageSize, allowRsv1);
        Invariant.Check(whole == byByte, $"whole and byte-by-byte decoding differ:\n{whole}\n{byByte}");
        Invariant.Check(whole == chunked, $"whole and chunked decoding differ:\n{whole}\n{chunked}");
    }

    /// <summary>Decodes the stream in the given pieces; the events as text, payloads as length and hash.</summary>
    public static string Decode(ReadOnlySpan<byte> stream, IEnumerable<(int Start, int Length)> pieces, long maxMessageSize, bool allowRsv1)
    {
        var decoder = new FrameDecoder(maxMessageSize, allowRsv1);
        var events = new StringBuilder();
        var message = new List<byte>();
        Opcode? messageOpcode = null;
        int calls = 0;
        int pieceCount = 0;
        foreach ((int start, int length) in pieces)
        {
            pieceCount++;
            ReadOnlySpan<byte> piece = stream.Slice(start, length);
            int used = 0;
            while (true)
            {
                ReadOnlySpan<byte> rest = piece[used..];
                DecodeStatus status = decoder.Decode(rest, out int consumed, out DecodedFrame frame);

                // Bounded work: a call either ends the piece, ends the stream, or consumes a byte.
                Invariant.Check(++calls <= stream.Length + pieceCount + 1, $"{calls} calls for {stream.Length} bytes in {pieceCount} pieces");
                Invariant.Check(consumed >= 0 && consumed <= rest.Length, $"consumed {consumed} of {rest.Length}");
                Invariant.Check(decoder.DataFrameRemaining >= 0, "negative payload remaining");
                used += consumed;
                switch (status)
                {
                    case DecodeStatus.NeedMoreData:
                        Invariant.Check(used == piece.Length, $"NeedMoreData after using {used} of {piece.Length} bytes");
                        break;
                    case DecodeStatus.Violation:
                        ProtocolViolation violation = decoder.Violation;
                        Invariant.Check(
                            violation.CloseStatus is WebSocketCloseStatus.ProtocolError or WebSocketCloseStatus.InvalidPayloadData or WebSocketCloseStatus.MessageTooBig,
                            $"violation with close code {(int)violation.CloseStatus}");
                        Invariant.Check(!string.IsNullOrEmpty(violation.Message), "violation without a message");
                        events.Append(CultureInfo.InvariantCulture, $"violation {(int)violation.CloseStatus} {violation.Message}\n");
                        return events.ToString();
                    case DecodeStatus.Control:
                        Invariant.Check(consumed > 0, "control frame reported without consuming input");
                        Invariant.Check(OpcodeRules.IsControl(frame.Opcode), $"control item with opcode {frame.Opcode}");
                        Invariant.Check(frame.Count == decoder.ControlPayload.Length && frame.Count <= FrameHeader.MaxControlPayload, $"control payload of {frame.Count} bytes");
                        events.Append(CultureInfo.InvariantCulture, $"{frame.Opcode} {Describe(decoder.ControlPayload)}");
                        if (frame.Opcode == Opcode.Close && decoder.CloseStatus is { } closeStatus)
                        {
                            Invariant.Check(CloseStatusRules.IsValidOnWire((int)closeStatus), $"close code {(int)closeStatus} accepted");
                            events.Append(CultureInfo.InvariantCulture, $" status {(int)closeStatus} reason {decoder.CloseReason}");
                        }

                        events.Append('\n');
                        break;
                    default:
                        Invariant.Check(status == DecodeStatus.Data, $"unexpected status {status}");
                        Invariant.Check(consumed > 0, "data reported without consuming input");
                        Invariant.Check(frame.Opcode is Opcode.Text or Opcode.Binary, $"data item with opcode {frame.Opcode}");
                        Invariant.Check(messageOpcode is null || messageOpcode == frame.Opcode, "a message changed its type between pieces");
                        Invariant.Check(frame.Offset >= 0 && frame.Count >= 0 && frame.Offset + frame.Count == consumed, $"piece at {frame.Offset}+{frame.Count}, consumed {consumed}");
                        messageOpcode = frame.Opcode;
                        message.AddRange(rest.Slice(frame.Offset, frame.Count));
                        Invariant.Check(message.Count <= maxMessageSize, $"a message of {message.Count} bytes passed the limit of {maxMessageSize}");
                        if (frame.EndOfMessage)
                        {
                            Invariant.Check(!decoder.InMessage, "still in a message after its end");
                            byte[] payload = [.. message];
                            bool compressed = decoder.MessageCompressed;
                            Invariant.Check(allowRsv1 || !compressed, "RSV1 accepted without an extension");

                            // RFC 6455 §8.1: uncompressed text is checked as it streams; the whole must pass the one-shot check.
                            Invariant.Check(
                                frame.Opcode != Opcode.Text || compressed || System.Text.Unicode.Utf8.IsValid(payload),
                                "a text message that is not valid UTF-8 was accepted");
                            events.Append(CultureInfo.InvariantCulture, $"{frame.Opcode}{(compressed ? " rsv1" : "")} {Describe(payload)}\n");
                            message.Clear();
                            messageOpcode = null;
                        }

                        break;
                }

                if (status == DecodeStatus.NeedMoreData)
                {
                    break;
                }
            }
        }

        if (decoder.InFrame || decoder.InMessage)
        {
            events.Append("incomplete\n");
        }

        return events.ToString();
    }

    /// <summary>A payload as its length and FNV-1a hash: enough to tell runs apart without keeping the bytes.</summary>
    private static string Describe(ReadOnlySpan<byte> payload)
    {
        ulong hash = 14695981039346656037;
        foreach (byte b in payload)
        {
            hash = (hash ^ b) * 1099511628211;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{payload.Length}:{hash:x16}");
    }
}
