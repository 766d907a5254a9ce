using System.IO.Compression;

namespace Duplex.Connection.Compression;

/// <summary>
/// The send side of permessage-deflate (RFC 7692 §7.2.1) over <see cref="DeflateStream"/>: compresses
/// a message, or a message's fragments in order, each ended with a sync flush. The zlib state is
/// created with the first compressed message and, without context takeover, released after every
/// message. Used under the connection's message lock: one message at a time, in wire order.
/// </summary>
internal sealed class MessageDeflater
{
    private readonly int _level;
    private readonly bool _noContextTakeover;
    private readonly DeflateOutput _output = new();
    private DeflateStream? _deflate;
    private bool _usedSinceCheck;

    public MessageDeflater(int level, bool noContextTakeover, int threshold)
    {
        _level = level;
        _noContextTakeover = noContextTakeover;
        Threshold = threshold;
    }

    /// <summary>Messages shorter than this are sent uncompressed.</summary>
    public int Threshold { get; }

    /// <summary>Whether the zlib state is allocated (for tests and the memory figures).</summary>
    public bool HoldsState => _deflate is not null;

    /// <summary>
    /// Compresses <paramref name="data"/> as the next piece of the current message and returns the
    /// payload of its frame, valid until <see cref="Done"/>. Each piece ends with a sync flush, so the
    /// peer can inflate it at once; on the last piece the flush's <c>00 00 FF FF</c> is removed.
    /// </summary>
    public ReadOnlySpan<byte> Compress(ReadOnlySpan<byte> data, bool endOfMessage)
    {
        _output.Reset();
        _usedSinceCheck = true;

        // Incompressible data grows by a few bytes per 16 KiB block, plus the flush's empty block.
        _output.Reserve(data.Length + (data.Length >> 10) + 64);
        DeflateStream deflate = _deflate ??= new DeflateStream(_output, new ZLibCompressionOptions { CompressionLevel = _level }, leaveOpen: true);
        deflate.Write(data);

        // RFC 7692 §7.2.1: compress, then flush so that the data ends on a block boundary with an
        // empty stored block (DeflateStream.Flush is zlib's Z_SYNC_FLUSH).
        deflate.Flush();
        if (!endOfMessage)
        {
            return _output.Written;
        }

        Span<byte> written = _output.Written;
        if (written.Length >= 4 && written[^4..].SequenceEqual((ReadOnlySpan<byte>)[0x00, 0x00, 0xFF, 0xFF]))
        {
            // RFC 7692 §7.2.1: "Remove 4 octets (that are 0x00 0x00 0xff 0xff) from the tail end."
            return written[..^4];
        }

        if (written.IsEmpty)
        {
            // Nothing new since the last flush: RFC 7692 §7.2.3.6 — a single 0x00 byte, the start of
            // an empty stored block that the receiver's appended 00 00 FF FF completes.
            _output.Append(0x00);
            return _output.Written;
        }

        throw new InvalidOperationException("The compressor's flush did not end with an empty stored block.");
    }

    /// <summary>
    /// The current frame's payload is appended: the output buffer goes back to the pool, and at the end
    /// of a message without context takeover the zlib state is released (RFC 7692 §7.1.1.2).
    /// </summary>
    public void Done(bool endOfMessage)
    {
        _output.Reset();
        if (endOfMessage && _noContextTakeover)
        {
            Release();
        }
    }

    /// <summary>
    /// Releases the zlib state when no message was compressed since the previous call, and starts the
    /// next period. Called under the message lock, between messages.
    /// </summary>
    public void ReleaseIfUnusedSinceLastCheck()
    {
        if (!_usedSinceCheck)
        {
            Release();
        }

        _usedSinceCheck = false;
    }

    /// <summary>Releases the zlib state; the next message starts a new one.</summary>
    public void Release()
    {
        if (_deflate is null)
        {
            return;
        }

        // Disposing writes a final block; nobody sends it.
        _output.Discarding = true;
        try
        {
            _deflate.Dispose();
        }
        finally
        {
            _deflate = null;
            _output.Discarding = false;
            _output.Reset();
        }
    }
}
