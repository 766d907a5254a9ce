using System.Runtime.CompilerServices;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

/// <summary>Feeds a stream to a <see cref="FrameDecoder"/> in pieces and records what comes out.</summary>
internal static class DecoderFeed
{
    public const long DefaultMaxMessageSize = 1 << 24;

    public static DecodeTrace Run(byte[] stream, int[] chunkSizes, long maxMessageSize = DefaultMaxMessageSize, bool allowRsv1 = false, bool probeEmptyInput = false) =>
        Run(new FrameDecoder(maxMessageSize, allowRsv1), stream, chunkSizes, probeEmptyInput);

    public static DecodeTrace Run(FrameDecoder decoder, byte[] stream, int[] chunkSizes, bool probeEmptyInput = false)
    {
        var trace = new DecodeTrace();
        var message = new List<byte>();
        Opcode? messageOpcode = null;
        foreach ((int start, int length) in Chunking.Pieces(stream.Length, chunkSizes))
        {
            if (probeEmptyInput)
            {
                // An empty read between pieces must change nothing.
                Assert.Equal(DecodeStatus.NeedMoreData, decoder.Decode([], out int none, out _));
                Assert.Equal(0, none);
            }

            ReadOnlySpan<byte> piece = stream.AsSpan(start, length);
            trace.Pieces++;
            int used = 0;
            while (true)
            {
                ReadOnlySpan<byte> input = piece[used..];
                DecodeStatus status = decoder.Decode(input, out int consumed, out DecodedFrame frame);
                trace.DecodeCalls++;

                // Checked with plain conditions: this runs once per byte in byte-by-byte runs.
                Check(consumed >= 0 && consumed <= input.Length, $"consumed {consumed} of {input.Length}");
                used += consumed;
                if (status == DecodeStatus.NeedMoreData)
                {
                    // NeedMoreData promises that all input was used.
                    Check(used == piece.Length, $"NeedMoreData after using {used} of {piece.Length} bytes");
                    break;
                }

                if (status == DecodeStatus.Violation)
                {
                    trace.Violation = decoder.Violation;
                    trace.ViolationPiece = (start, length);
                    trace.Events.Add(DecoderEvent.Violation((int)decoder.Violation.CloseStatus));
                    return trace;
                }

                // Every item reported moves the decoder forward, so this loop ends.
                Check(consumed > 0, $"{status} reported without consuming input");
                if (status == DecodeStatus.Control)
                {
                    Check(OpcodeRules.IsControl(frame.Opcode), $"control item with opcode {frame.Opcode}");
                    Check(decoder.ControlPayload.Length == frame.Count && frame.Count <= FrameHeader.MaxControlPayload, $"control payload of {frame.Count} bytes");
                    trace.Events.Add(DescribeControl(decoder, frame.Opcode));
                    continue;
                }

                Check(status == DecodeStatus.Data, $"unexpected status {status}");
                Check(frame.Opcode is Opcode.Text or Opcode.Binary, $"data item with opcode {frame.Opcode}");
                Check(messageOpcode is null || messageOpcode == frame.Opcode, "a message changed its type between pieces");

                // The payload piece lies inside this call's input and ends where consumption ended.
                Check(frame.Offset >= 0 && frame.Count >= 0 && frame.Offset + frame.Count == consumed, $"piece at {frame.Offset}+{frame.Count}, consumed {consumed}");
                messageOpcode = frame.Opcode;
                message.AddRange(input.Slice(frame.Offset, frame.Count));
                if (frame.EndOfMessage)
                {
                    Check(!decoder.InMessage, "still in a message after its end");
                    byte[] payload = [.. message];
                    trace.Events.Add(frame.Opcode == Opcode.Text
                        ? DecoderEvent.Text(payload, decoder.MessageCompressed)
                        : DecoderEvent.Binary(payload, decoder.MessageCompressed));
                    message.Clear();
                    messageOpcode = null;
                }
            }
        }

        if (decoder.InFrame || decoder.InMessage)
        {
            trace.Events.Add(DecoderEvent.Incomplete);
        }

        return trace;
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            Assert.Fail(message);
        }
    }

    private static void Check(bool condition, [InterpolatedStringHandlerArgument(nameof(condition))] ref CheckMessage message)
    {
        if (!condition)
        {
            Assert.Fail(message.ToString());
        }
    }

    private static string DescribeControl(FrameDecoder decoder, Opcode opcode) => opcode switch
    {
        Opcode.Close when decoder.CloseStatus is { } status => DecoderEvent.Close((int)status, decoder.CloseReason ?? ""),
        Opcode.Close => DecoderEvent.Close(),
        Opcode.Ping => DecoderEvent.Ping(decoder.ControlPayload),
        _ => DecoderEvent.Pong(decoder.ControlPayload),
    };

    /// <summary>A failure message that is only formatted when the check fails.</summary>
    [InterpolatedStringHandler]
    private ref struct CheckMessage
    {
        private DefaultInterpolatedStringHandler _inner;
        private readonly bool _enabled;

        public CheckMessage(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
        {
            _enabled = !condition;
            shouldAppend = _enabled;
            _inner = _enabled ? new DefaultInterpolatedStringHandler(literalLength, formattedCount) : default;
        }

        public void AppendLiteral(string value) => _inner.AppendLiteral(value);

        public void AppendFormatted<T>(T value) => _inner.AppendFormatted(value);

        public override string ToString() => _enabled ? _inner.ToStringAndClear() : "";
    }
}
