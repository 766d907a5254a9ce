namespace Duplex.Handshake.Rules;

/// <summary>What the client asks for in its permessage-deflate offer (RFC 7692 §7.1).</summary>
/// <param name="ClientNoContextTakeover">Offer <c>client_no_context_takeover</c>: a promise the client can always keep.</param>
/// <param name="ServerNoContextTakeover">Offer <c>server_no_context_takeover</c>: ask the server to compress each message on its own.</param>
/// <param name="ServerMaxWindowBits">Offer <c>server_max_window_bits=N</c> (8 to 15); null offers none.</param>
/// <param name="OfferClientMaxWindowBits">
/// Offer <c>client_max_window_bits</c> without a value (the client supports the parameter). An answer
/// that lowers the client's window below 15 then fails the handshake: the compressor has no other window.
/// </param>
internal readonly record struct PerMessageDeflateRequest(
    bool ClientNoContextTakeover,
    bool ServerNoContextTakeover,
    int? ServerMaxWindowBits,
    bool OfferClientMaxWindowBits);
