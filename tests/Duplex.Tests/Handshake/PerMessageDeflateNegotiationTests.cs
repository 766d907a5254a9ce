using Duplex.Handshake;
using Duplex.Handshake.Rules;

namespace Duplex.Tests.Handshake;

/// <summary>RFC 7692 §7.1 from the client's side: every parameter offered, accepted and refused. No socket.</summary>
public sealed class PerMessageDeflateNegotiationTests
{
    private static readonly PerMessageDeflateRequest s_plain = new(false, false, null, false);

    [Theory]
    [InlineData(false, false, null, false, "permessage-deflate")]
    [InlineData(true, false, null, false, "permessage-deflate; client_no_context_takeover")]
    [InlineData(false, true, null, false, "permessage-deflate; server_no_context_takeover, permessage-deflate")]
    [InlineData(false, false, 10, false, "permessage-deflate; server_max_window_bits=10, permessage-deflate")]
    [InlineData(false, false, null, true, "permessage-deflate; client_max_window_bits")]
    [InlineData(true, true, 12, true, "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=12; client_max_window_bits, permessage-deflate; client_no_context_takeover; client_max_window_bits")]
    public void Offer_EachParameter_FormattedWithFallback(bool clientNoContext, bool serverNoContext, int? serverBits, bool clientBits, string expected)
    {
        var offer = new PerMessageDeflateOffer(new PerMessageDeflateRequest(clientNoContext, serverNoContext, serverBits, clientBits));
        Assert.Equal(expected, offer.OfferHeaderValue);
    }

    [Theory]
    [InlineData("", false, false, 15)]
    [InlineData("server_no_context_takeover", false, true, 15)]
    [InlineData("client_no_context_takeover", true, false, 15)]
    [InlineData("server_max_window_bits=8", false, false, 8)]
    [InlineData("server_max_window_bits=15", false, false, 15)]
    [InlineData("server_max_window_bits=\"10\"", false, false, 10)]
    [InlineData("SERVER_NO_CONTEXT_TAKEOVER; Client_No_Context_Takeover", true, true, 15)]
    [InlineData("server_no_context_takeover;client_no_context_takeover;server_max_window_bits=9", true, true, 9)]
    public void Answer_ToPlainOffer_Accepted(string parameters, bool clientNoContext, bool serverNoContext, int serverBits)
    {
        Assert.True(PerMessageDeflateNegotiation.TryAccept(parameters, [s_plain], out PerMessageDeflateParameters agreed, out string? error), error);
        Assert.Equal(new PerMessageDeflateParameters(clientNoContext, serverNoContext, serverBits, 15), agreed);
    }

    [Theory]
    [InlineData("unknown_parameter")]
    [InlineData("server_no_context_takeover; server_no_context_takeover")]
    [InlineData("client_no_context_takeover; client_no_context_takeover")]
    [InlineData("server_max_window_bits=10; server_max_window_bits=10")]
    [InlineData("server_no_context_takeover=1")]
    [InlineData("client_no_context_takeover=yes")]
    [InlineData("server_max_window_bits")]
    [InlineData("server_max_window_bits=7")]
    [InlineData("server_max_window_bits=16")]
    [InlineData("server_max_window_bits=010")]
    [InlineData("server_max_window_bits=1a")]
    [InlineData("server_max_window_bits=")]
    [InlineData("client_max_window_bits=15")]
    [InlineData("client_max_window_bits")]
    [InlineData("x y")]
    [InlineData(";")]
    public void Answer_InvalidOrNotOffered_Refused(string parameters)
    {
        Assert.False(PerMessageDeflateNegotiation.TryAccept(parameters, [s_plain], out _, out string? error));
        Assert.False(string.IsNullOrEmpty(error));
        Assert.Contains("RFC 7692", error);
    }

    [Fact]
    public void ServerWindow_Offered_AnswerAtMostOffered_Accepted()
    {
        var request = s_plain with { ServerMaxWindowBits = 10 };
        IReadOnlyList<PerMessageDeflateRequest> offers = [request];
        Assert.True(PerMessageDeflateNegotiation.TryAccept("server_max_window_bits=10", offers, out var agreed, out _));
        Assert.Equal(10, agreed.ServerMaxWindowBits);
        Assert.True(PerMessageDeflateNegotiation.TryAccept("server_max_window_bits=9", offers, out agreed, out _));
        Assert.Equal(9, agreed.ServerMaxWindowBits);
    }

    [Fact]
    public void ServerWindow_Offered_AnswerLargerOrMissing_RefusedWithoutFallback()
    {
        IReadOnlyList<PerMessageDeflateRequest> offers = [s_plain with { ServerMaxWindowBits = 10 }];
        Assert.False(PerMessageDeflateNegotiation.TryAccept("server_max_window_bits=11", offers, out _, out string? larger));
        Assert.Contains("larger than offered", larger);
        Assert.False(PerMessageDeflateNegotiation.TryAccept("", offers, out _, out string? missing));
        Assert.Contains("without the server_max_window_bits", missing);
    }

    [Fact]
    public void ServerWindow_Offered_AnswerMissing_AcceptsTheFallbackOffer()
    {
        IReadOnlyList<PerMessageDeflateRequest> offers = PerMessageDeflateNegotiation.Offers(s_plain with { ServerMaxWindowBits = 10, ServerNoContextTakeover = true });
        Assert.Equal(2, offers.Count);
        Assert.True(PerMessageDeflateNegotiation.TryAccept("", offers, out var agreed, out _));
        Assert.Equal(new PerMessageDeflateParameters(false, false, 15, 15), agreed);
        Assert.True(PerMessageDeflateNegotiation.TryAccept("server_max_window_bits=12", offers, out agreed, out _));
        Assert.Equal(12, agreed.ServerMaxWindowBits);
    }

    [Fact]
    public void ClientNoContextTakeover_Offered_KeptEvenWhenTheServerOmitsIt()
    {
        Assert.True(PerMessageDeflateNegotiation.TryAccept("", [s_plain with { ClientNoContextTakeover = true }], out var agreed, out _));
        Assert.True(agreed.ClientNoContextTakeover);
    }

    [Theory]
    [InlineData("client_max_window_bits=15", true)]
    [InlineData("client_max_window_bits=14", false)]
    [InlineData("client_max_window_bits=8", false)]
    [InlineData("client_max_window_bits", false)]
    public void ClientWindow_Offered_OnlyFifteenAccepted(string parameters, bool accepted)
    {
        bool result = PerMessageDeflateNegotiation.TryAccept(parameters, [s_plain with { OfferClientMaxWindowBits = true }], out var agreed, out string? error);
        Assert.Equal(accepted, result);
        if (accepted)
        {
            Assert.Equal(15, agreed.ClientMaxWindowBits);
        }
        else
        {
            Assert.Contains("client_max_window_bits", error);
        }
    }

    [Fact]
    public void ClientWindow_SmallerAnswer_ExplainsTheLimitation()
    {
        Assert.False(PerMessageDeflateNegotiation.TryAccept("client_max_window_bits=10", [s_plain with { OfferClientMaxWindowBits = true }], out _, out string? error));
        Assert.Contains("15-bit window only", error);
    }

    [Theory]
    [InlineData("permessage-deflate; unknown")]
    [InlineData("permessage-deflate, permessage-deflate")]
    [InlineData("permessage-deflate; client_max_window_bits=10")]
    [InlineData("x-webkit-deflate-frame")]
    public void Negotiate_BadAnswer_FailsTheHandshakeAsInvalidHandshake(string header)
    {
        var headers = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase) { ["Sec-WebSocket-Extensions"] = [header] };
        var offer = new PerMessageDeflateOffer(s_plain);
        var exception = Assert.Throws<WebSocketConnectException>(() => ExtensionNegotiation.Negotiate(headers, [offer]));
        Assert.Equal(WebSocketConnectError.InvalidHandshake, exception.Error);
    }

    [Fact]
    public void Negotiate_GoodAnswer_RecordsWhatWasAgreed()
    {
        var headers = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase) { ["Sec-WebSocket-Extensions"] = ["permessage-deflate; server_max_window_bits=11; client_no_context_takeover"] };
        var offer = new PerMessageDeflateOffer(s_plain);
        Assert.Equal("permessage-deflate; server_max_window_bits=11; client_no_context_takeover", ExtensionNegotiation.Negotiate(headers, [offer]));
        Assert.Equal(new PerMessageDeflateParameters(true, false, 11, 15), offer.Agreed);
    }

    [Fact]
    public void Negotiate_NoAnswer_NothingAgreed()
    {
        var offer = new PerMessageDeflateOffer(s_plain);
        Assert.Null(ExtensionNegotiation.Negotiate(new Dictionary<string, IReadOnlyList<string>>(), [offer]));
        Assert.Null(offer.Agreed);
    }
}
