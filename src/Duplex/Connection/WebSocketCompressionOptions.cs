using Duplex.Handshake.Rules;

namespace Duplex.Connection;

/// <summary>
/// permessage-deflate (RFC 7692): whether it is offered, what is asked of the server, and how
/// messages are compressed once it is agreed. Off by default (see <see cref="Enabled"/>).
/// </summary>
/// <remarks>
/// Validated and copied with the connection's options when a connection is created: an invalid
/// value throws an <see cref="ArgumentException"/> naming the property, and later changes do not
/// affect that connection. Compression uses <see cref="System.IO.Compression.DeflateStream"/>, which
/// compresses with a 15-bit window only; messages from the server are inflated with any window.
/// </remarks>
public sealed class WebSocketCompressionOptions
{
    /// <summary>The default <see cref="Threshold"/>: 64 bytes.</summary>
    public const int DefaultThreshold = 64;

    /// <summary>The default <see cref="CompressionLevel"/>: 6, zlib's own default.</summary>
    public const int DefaultCompressionLevel = 6;

    /// <summary>
    /// Whether permessage-deflate is offered in the handshake. Default <see langword="false"/>:
    /// compressing secrets together with data an attacker can choose lets the compressed length
    /// reveal the secret (the CRIME and BREACH attacks), and a compressor per connection costs memory;
    /// turn it on for feeds where the saving is worth it and the messages do not mix the two.
    /// </summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// Offers <c>client_no_context_takeover</c> (RFC 7692 §7.1.1.2): every message this client sends is
    /// compressed on its own, so the compressor is released after each message (less memory per idle
    /// connection, a little less compression). Default <see langword="false"/>. A server may ask for it
    /// anyway, and is then obeyed.
    /// </summary>
    public bool ClientNoContextTakeover { get; set; }

    /// <summary>
    /// Offers <c>server_no_context_takeover</c> (RFC 7692 §7.1.1.1): asks the server to compress every
    /// message on its own, so the decompressor is released after each message. Default
    /// <see langword="false"/>. A plain offer follows it in the header, so a server that declines still
    /// agrees to compression.
    /// </summary>
    public bool ServerNoContextTakeover { get; set; }

    /// <summary>
    /// Offers <c>server_max_window_bits</c> (RFC 7692 §7.1.2.1) with this value, from 8 to 15: asks the
    /// server to compress with a window of at most 2^N bytes (less memory on its side). Null (the
    /// default) offers none. A plain offer follows it in the header, so a server that declines still
    /// agrees to compression.
    /// </summary>
    public int? ServerMaxWindowBits { get; set; }

    /// <summary>
    /// Offers <c>client_max_window_bits</c> without a value (RFC 7692 §7.1.2.2), which lets the server
    /// choose the client's window. This client compresses with a 15-bit window only, so an answer with a
    /// smaller window fails the handshake with <see cref="WebSocketConnectError.InvalidHandshake"/>.
    /// Default <see langword="false"/>: not offered, so no server can lower it.
    /// </summary>
    public bool OfferClientMaxWindowBits { get; set; }

    /// <summary>
    /// Messages shorter than this many bytes (UTF-8 for text) are sent uncompressed, where compressing
    /// would save little or nothing. Default <see cref="DefaultThreshold"/>; 0 compresses every
    /// non-empty message. Messages sent with a <see cref="WebSocketMessageWriter"/> are always compressed.
    /// </summary>
    public int Threshold { get; set; } = DefaultThreshold;

    /// <summary>
    /// The zlib compression level, from 0 (no compression, the data still framed as DEFLATE) through 1
    /// (fastest) to 9 (smallest). Default <see cref="DefaultCompressionLevel"/>.
    /// </summary>
    public int CompressionLevel { get; set; } = DefaultCompressionLevel;

    /// <summary>A validated copy.</summary>
    internal WebSocketCompressionOptions Snapshot()
    {
        if (ServerMaxWindowBits is { } bits &&
            bits is < PerMessageDeflateNegotiation.MinWindowBits or > PerMessageDeflateNegotiation.MaxWindowBits)
        {
            throw new ArgumentOutOfRangeException(nameof(ServerMaxWindowBits), bits, "The window must be from 8 to 15 bits, or null to offer none.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(Threshold, nameof(Threshold));
        if (CompressionLevel is < 0 or > 9)
        {
            throw new ArgumentOutOfRangeException(nameof(CompressionLevel), CompressionLevel, "The compression level must be from 0 to 9.");
        }

        return (WebSocketCompressionOptions)MemberwiseClone();
    }

    /// <summary>What the handshake offers.</summary>
    internal PerMessageDeflateRequest ToRequest() =>
        new(ClientNoContextTakeover, ServerNoContextTakeover, ServerMaxWindowBits, OfferClientMaxWindowBits);
}
