using System.Buffers;
using System.Text;
using Duplex.Connection.Compression;
using Duplex.Protocol;

namespace Duplex.Connection.Send;

internal sealed partial class FrameSender
{
    // permessage-deflate, when agreed (RFC 7692); used only under the message lock, so messages are
    // compressed in the order they go out, and outside the sender's monitor, so a Pong never waits
    // for a compression.
    private readonly MessageDeflater? _deflater;

    /// <summary>Whether the compressor holds zlib state (for tests and the memory figures).</summary>
    public bool HoldsCompressionState => _deflater?.HoldsState == true;

    /// <summary>Releases the compressor's zlib state if nothing was compressed since the previous call (a keepalive tick).</summary>
    public void ReleaseIdleCompressor() => ReleaseCompressorUnlessSending(idleOnly: true);

    /// <summary>The connection ended: the compressor's zlib state goes now, unless a send is compressing (then the finalizer frees it).</summary>
    public void ReleaseCompressor() => ReleaseCompressorUnlessSending(idleOnly: false);

    /// <summary>
    /// Releases the compressor's zlib state (with <paramref name="idleOnly"/>, only if it went unused since
    /// the previous check); skipped while a message is being sent: the message lock is taken without
    /// waiting, so the compressor is never released under a sender's feet.
    /// </summary>
    private void ReleaseCompressorUnlessSending(bool idleOnly)
    {
        if (_deflater is not { HoldsState: true } deflater)
        {
            return;
        }

        SemaphoreSlim messageLock = MessageLock;
        if (!messageLock.Wait(0))
        {
            return;
        }

        try
        {
            if (idleOnly)
            {
                deflater.ReleaseIfUnusedSinceLastCheck();
            }
            else
            {
                deflater.Release();
            }
        }
        finally
        {
            messageLock.Release();
        }
    }

    /// <summary>
    /// A whole message with permessage-deflate agreed: below the threshold (or empty) it goes out as
    /// is; otherwise compressed into one frame with RSV1 set (RFC 7692 §6). Returns 0 when
    /// <paramref name="withinLimit"/> is set and the buffer is over its limit — checked before
    /// compressing, since the compressor's context cannot take a message back.
    /// </summary>
    private long AppendMessage(Payload payload, bool withinLimit)
    {
        MessageDeflater deflater = _deflater!;
        if (payload.Length == 0 || payload.Length < deflater.Threshold)
        {
            return Append(payload, fin: true, wholeMessage: true, control: false, withinLimit);
        }

        if (withinLimit)
        {
            lock (this)
            {
                ThrowIfCannotSendLocked(control: false);
                if (!UnderLimitLocked)
                {
                    return 0;
                }
            }
        }

        byte[]? encoded = null;
        try
        {
            ReadOnlySpan<byte> original;
            if (payload.Text is { } text)
            {
                encoded = ArrayPool<byte>.Shared.Rent(payload.Length);
                original = encoded.AsSpan(0, Encoding.UTF8.GetBytes(text, encoded));
            }
            else
            {
                original = payload.Data.Span;
            }

            ReadOnlySpan<byte> compressed = deflater.Compress(original, endOfMessage: true);
            return AppendCompressedFrame(payload.Opcode, fin: true, FrameHeader.Rsv1, compressed, original, wholeMessage: true);
        }
        finally
        {
            deflater.Done(endOfMessage: true);
            if (encoded is not null)
            {
                ArrayPool<byte>.Shared.Return(encoded);
            }
        }
    }

    /// <summary>
    /// One frame of a message writer's message with permessage-deflate agreed: every piece is
    /// compressed and flushed, RSV1 on the first frame only (RFC 7692 §6.1).
    /// </summary>
    private void AppendCompressedFragment(Opcode opcode, bool fin, ReadOnlySpan<byte> data)
    {
        MessageDeflater deflater = _deflater!;
        bool first = opcode != Opcode.Continuation;

        try
        {
            ReadOnlySpan<byte> compressed = deflater.Compress(data, fin);
            AppendCompressedFrame(opcode, fin, first ? FrameHeader.Rsv1 : (byte)0, compressed, default, wholeMessage: false);
        }
        finally
        {
            deflater.Done(fin);
        }
    }

    private long AppendCompressedFrame(Opcode opcode, bool fin, byte rsv, ReadOnlySpan<byte> compressed, ReadOnlySpan<byte> original, bool wholeMessage)
    {
        bool start;
        long ticket;
        lock (this)
        {
            ThrowIfCannotSendLocked(control: false);
            ticket = Buffer.AppendCompressed(opcode, fin, rsv, compressed, original, wholeMessage);
            start = MarkWritingLocked();
        }

        StartWriterIf(start);
        return ticket;
    }
}
