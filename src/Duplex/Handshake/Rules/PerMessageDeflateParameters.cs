namespace Duplex.Handshake.Rules;

/// <summary>
/// What a permessage-deflate negotiation agreed on (RFC 7692 §7.1), from the client's side.
/// </summary>
/// <param name="ClientNoContextTakeover">
/// RFC 7692 §7.1.1.2: the client must not use the LZ77 window of earlier messages when compressing,
/// so its compressor may be reset (and released) after every message.
/// </param>
/// <param name="ServerNoContextTakeover">
/// RFC 7692 §7.1.1.1: the server compresses every message on its own, so the client's decompressor
/// may be reset (and released) after every message.
/// </param>
/// <param name="ServerMaxWindowBits">The server's LZ77 window, 8 to 15 bits (15 when it named none).</param>
/// <param name="ClientMaxWindowBits">The client's LZ77 window: always 15, the only one the compressor has.</param>
internal readonly record struct PerMessageDeflateParameters(
    bool ClientNoContextTakeover,
    bool ServerNoContextTakeover,
    int ServerMaxWindowBits,
    int ClientMaxWindowBits);
