namespace Duplex.Handshake;

/// <summary>
/// One extension the client offers in <c>Sec-WebSocket-Extensions</c> (RFC 6455 §9.1), and the
/// judge of what the server answered for it. The seam a permessage-deflate implementation
/// (RFC 7692) plugs into.
/// </summary>
/// <remarks>
/// The handshake sends <see cref="OfferHeaderValue"/> for every offer, in order. When the response
/// names this extension, the handshake calls <see cref="TryAccept"/> once with the parameters the
/// server chose; the offer records what was negotiated (it is used for one connect only). The
/// server may accept only offered extensions, each at most once (RFC 6455 §9.1).
/// </remarks>
internal abstract class WebSocketExtensionOffer
{
    /// <summary>Creates an offer for the extension with the given registered name.</summary>
    /// <param name="name">The extension token, for example <c>permessage-deflate</c>.</param>
    protected WebSocketExtensionOffer(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
    }

    /// <summary>The extension token (compared case-insensitively with the server's answer).</summary>
    public string Name { get; }

    /// <summary>
    /// The offer as it goes into the request header: the name followed by any parameters, for
    /// example <c>permessage-deflate; client_max_window_bits</c>.
    /// </summary>
    public abstract string OfferHeaderValue { get; }

    /// <summary>Judges the server's answer for this extension.</summary>
    /// <param name="negotiatedParameters">
    /// Everything after the extension name in the server's answer (for example
    /// <c>server_no_context_takeover; client_max_window_bits=10</c>), trimmed; empty when there are none.
    /// </param>
    /// <param name="error">When the answer is refused: one sentence naming the broken rule.</param>
    /// <returns>Whether the answer is acceptable; <see langword="false"/> fails the handshake.</returns>
    public abstract bool TryAccept(string negotiatedParameters, out string? error);
}
