using Duplex.Handshake.Rules;

namespace Duplex.Handshake;

/// <summary>
/// The permessage-deflate offer of one connect (RFC 7692 §7), and what the server agreed to.
/// </summary>
internal sealed class PerMessageDeflateOffer : WebSocketExtensionOffer
{
    private readonly IReadOnlyList<PerMessageDeflateRequest> _offers;

    public PerMessageDeflateOffer(PerMessageDeflateRequest request)
        : base(PerMessageDeflateNegotiation.ExtensionName)
    {
        _offers = PerMessageDeflateNegotiation.Offers(request);
        OfferHeaderValue = PerMessageDeflateNegotiation.Format(_offers);
    }

    /// <inheritdoc/>
    public override string OfferHeaderValue { get; }

    /// <summary>What was agreed, once the server accepted the extension; null when it did not.</summary>
    public PerMessageDeflateParameters? Agreed { get; private set; }

    /// <inheritdoc/>
    public override bool TryAccept(string negotiatedParameters, out string? error)
    {
        if (!PerMessageDeflateNegotiation.TryAccept(negotiatedParameters, _offers, out PerMessageDeflateParameters agreed, out error))
        {
            return false;
        }

        Agreed = agreed;
        return true;
    }
}
