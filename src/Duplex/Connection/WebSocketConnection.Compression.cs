using Duplex.Connection.Compression;
using Duplex.Diagnostics;
using Duplex.Handshake;
using Duplex.Handshake.Rules;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    // permessage-deflate (RFC 7692), when the handshake agreed to it: the compressor used by the
    // sender, the inflater used by the application's reader. Their zlib state is created on first use.
    private MessageDeflater? _deflater;
    private MessageInflater? _inflater;

    /// <summary>Whether permessage-deflate was agreed for this connection.</summary>
    internal bool CompressionAgreed => _inflater is not null;

    /// <summary>Whether the compressor or the inflater holds zlib state now (for tests and the memory figures).</summary>
    internal bool HoldsCompressionState =>
        _inflater?.HoldsState == true || Volatile.Read(ref _sender)?.HoldsCompressionState == true;

    /// <summary>Whether the compressor (the send side alone) holds zlib state now; for tests.</summary>
    internal bool HoldsCompressorState => Volatile.Read(ref _sender)?.HoldsCompressionState == true;

    /// <summary>
    /// Runs the client side of an established connection over <paramref name="stream"/> with
    /// permessage-deflate as <paramref name="agreed"/> (a handshake made elsewhere); for tests.
    /// </summary>
    internal static WebSocketConnection FromStreamWithCompression(Stream stream, WebSocketConnectionOptions? options, PerMessageDeflateParameters agreed)
    {
        options ??= new WebSocketConnectionOptions();
        var connection = new WebSocketConnection(options);
        WebSocketCompressionOptions compression = options.Compression.Snapshot();
        connection.UseCompression(agreed, compression, options.MaxMessageSize);
        connection.Start(stream, subProtocol: null);
        return connection;
    }

    /// <summary>Adds the permessage-deflate offer to this connect's handshake when compression is on.</summary>
    private static PerMessageDeflateOffer? OfferCompression(WebSocketConnectionOptions settings)
    {
        if (!settings.Compression.Enabled)
        {
            return null;
        }

        var offer = new PerMessageDeflateOffer(settings.Compression.ToRequest());
        settings.Handshake.ExtensionOffers.Add(offer);
        return offer;
    }

    /// <summary>Sets the connection up for what the handshake agreed; before <see cref="Start"/>.</summary>
    private void UseCompression(PerMessageDeflateParameters agreed, WebSocketCompressionOptions options, long maxMessageSize)
    {
        // RFC 7692 §6: with the extension agreed, RSV1 marks the first frame of a compressed message.
        _receiver.Decoder.AllowRsv1 = true;
        _deflater = new MessageDeflater(options.CompressionLevel, agreed.ClientNoContextTakeover, options.Threshold);
        _inflater = new MessageInflater(maxMessageSize, agreed.ServerNoContextTakeover, FailForReceivedData);
    }

    /// <summary>At the end of the connection: the zlib state goes back now rather than when the GC finalizes it.</summary>
    private void ReleaseCompressionState()
    {
        if (_inflater is null)
        {
            return;
        }

        Volatile.Read(ref _sender)?.ReleaseCompressor();
        Reader.ReleaseInflater();
    }

    /// <summary>
    /// Releases the compressor when no message was compressed since the previous call (each keepalive
    /// Ping calls it): RFC 7692 leaves the sender free to compress without earlier context at any time
    /// (the peer's inflater is unaffected), so an idle connection gives back the zlib state even with
    /// context takeover. The inflater cannot be released this way: with server context takeover the
    /// server's next message may refer to the window it holds.
    /// </summary>
    internal void ReleaseIdleCompression() => Volatile.Read(ref _sender)?.ReleaseIdleCompressor();

    /// <summary>
    /// A compressed message did not inflate (1007), inflated to invalid UTF-8 (1007) or past the
    /// maximum message size (1009), found by the application's receive call: the connection is failed
    /// (RFC 6455 §7.1.7) and the receive call throws what is returned.
    /// </summary>
    private Exception FailForReceivedData(ProtocolViolation violation)
    {
        Log.ProtocolViolation(_logger, violation.CloseStatus, violation.Message);
        _ = FailAsync(violation.CloseStatus, null, violation.ToException());
        return violation.ToException();
    }
}
