using System.Net.WebSockets;
using System.Text;
using CsCheck;
using Duplex.Protocol;

namespace Duplex.Tests.Protocol;

public sealed class CloseStatusRulesTests
{
    /// <summary>The rule written out independently: 1000–1003, 1007–1014 and 3000–4999.</summary>
    private static bool ExpectedOnWire(int code) =>
        code is 1000 or 1001 or 1002 or 1003
            or 1007 or 1008 or 1009 or 1010 or 1011 or 1012 or 1013 or 1014
        || (code >= 3000 && code < 5000);

    [Fact]
    public void CloseStatusRules_IsValidOnWire_MatchesTheRuleForEveryCodeUpTo5000()
    {
        var wrong = Enumerable.Range(0, 5001).Where(code => CloseStatusRules.IsValidOnWire(code) != ExpectedOnWire(code)).ToList();

        Assert.Empty(wrong);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(999, false)]
    [InlineData(1000, true)]
    [InlineData(1003, true)]
    [InlineData(1004, false)]
    [InlineData(1005, false)]
    [InlineData(1006, false)]
    [InlineData(1007, true)]
    [InlineData(1014, true)]
    [InlineData(1015, false)]
    [InlineData(1016, false)]
    [InlineData(2999, false)]
    [InlineData(3000, true)]
    [InlineData(4999, true)]
    [InlineData(5000, false)]
    [InlineData(65535, false)]
    [InlineData(-1, false)]
    public void CloseStatusRules_IsValidOnWire_Boundaries(int code, bool expected)
    {
        Assert.Equal(expected, CloseStatusRules.IsValidOnWire(code));
    }

    [Fact]
    public void CloseStatusRules_TryParse_EmptyPayload_MeansNoStatus()
    {
        Assert.True(CloseStatusRules.TryParse([], out WebSocketCloseStatus? status, out string? reason, out _));
        Assert.Null(status);
        Assert.Null(reason);
    }

    [Fact]
    public void CloseStatusRules_TryParse_OneBytePayload_IsProtocolError()
    {
        Assert.False(CloseStatusRules.TryParse([0x03], out WebSocketCloseStatus? status, out _, out ProtocolViolation violation));
        Assert.Equal(WebSocketCloseStatus.ProtocolError, violation.CloseStatus);
        Assert.Null(status);
    }

    [Theory]
    [InlineData("00 00")]
    [InlineData("03 e7")]          // 999
    [InlineData("03 ec")]          // 1004
    [InlineData("03 ed")]          // 1005, never sent
    [InlineData("03 ee")]          // 1006, never sent
    [InlineData("03 f7")]          // 1015, never sent
    [InlineData("03 f8")]          // 1016
    [InlineData("0b b7")]          // 2999
    [InlineData("13 88")]          // 5000
    [InlineData("ff ff")]
    [InlineData("03 ed 62 79 65")] // 1005 with a reason
    public void CloseStatusRules_TryParse_CodeNotAllowedOnWire_IsProtocolError(string payload)
    {
        Assert.False(CloseStatusRules.TryParse(HexBytes.Parse(payload), out _, out _, out ProtocolViolation violation));
        Assert.Equal(WebSocketCloseStatus.ProtocolError, violation.CloseStatus);
    }

    [Theory]
    [InlineData("03 e8 c0 80")]
    [InlineData("03 e8 62 79 65 ff")]
    [InlineData("03 e8 ed a0 80")]
    [InlineData("03 e8 e2 82")]    // cut short
    [InlineData("0f a0 80")]
    public void CloseStatusRules_TryParse_ReasonNotUtf8_IsInvalidPayloadData(string payload)
    {
        Assert.False(CloseStatusRules.TryParse(HexBytes.Parse(payload), out _, out _, out ProtocolViolation violation));
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, violation.CloseStatus);
    }

    [Theory]
    [InlineData("03 e8", 1000, "")]
    [InlineData("03 e9 62 79 65", 1001, "bye")]
    [InlineData("03 f6", 1014, "")]
    [InlineData("0b b8 ce ba e1 bd b9 cf 83 ce bc ce b5", 3000, "κ\u1f79σμε")]
    [InlineData("13 87 f0 9f 98 80", 4999, "😀")]
    public void CloseStatusRules_TryParse_ValidPayload_ReturnsCodeAndReason(string payload, int code, string reason)
    {
        Assert.True(CloseStatusRules.TryParse(HexBytes.Parse(payload), out WebSocketCloseStatus? status, out string? parsedReason, out _));
        Assert.Equal((WebSocketCloseStatus)code, status);
        Assert.Equal(reason, parsedReason);
    }

    [Fact]
    public void CloseStatusRules_TryParse_LongestReason_IsAccepted()
    {
        byte[] payload = [0x03, 0xe8, .. Encoding.ASCII.GetBytes(new string('r', CloseStatusRules.MaxReasonBytes))];

        Assert.True(CloseStatusRules.TryParse(payload, out _, out string? reason, out _));
        Assert.Equal(123, reason!.Length);
    }

    [Theory]
    [InlineData(1000, null, "03 e8")]
    [InlineData(1000, "", "03 e8")]
    [InlineData(1001, "bye", "03 e9 62 79 65")]
    [InlineData(3000, "κ\u1f79σμε", "0b b8 ce ba e1 bd b9 cf 83 ce bc ce b5")]
    [InlineData(4999, "€", "13 87 e2 82 ac")]
    public void CloseStatusRules_Write_EncodesCodeBigEndianThenUtf8Reason(int code, string? reason, string expected)
    {
        byte[] buffer = new byte[FrameHeader.MaxControlPayload];

        int written = CloseStatusRules.Write(buffer, (WebSocketCloseStatus)code, reason);

        Assert.Equal(HexBytes.Format(HexBytes.Parse(expected)), HexBytes.Format(buffer.AsSpan(0, written)));
    }

    [Fact]
    public void CloseStatusRules_WriteThenParse_RoundTripsValidCodesAndReasons()
    {
        Gen<int> codes = Gen.OneOf(Gen.Int[1000, 1003], Gen.Int[1007, 1014], Gen.Int[3000, 4999]);
        Gen<string> reasons = Utf8Reference.Runes.Array[0, 30].Select(runes => Encoding.UTF8.GetString(Utf8Reference.Encode(runes)))
            .Where(reason => Encoding.UTF8.GetByteCount(reason) <= CloseStatusRules.MaxReasonBytes);

        Gen.Select(codes, reasons).Sample((code, reason) =>
        {
            CloseStatusRules.ValidateOutgoing((WebSocketCloseStatus)code, reason, "status", "reason");
            byte[] buffer = new byte[FrameHeader.MaxControlPayload];

            int written = CloseStatusRules.Write(buffer, (WebSocketCloseStatus)code, reason);

            Assert.True(written <= FrameHeader.MaxControlPayload);
            Assert.True(CloseStatusRules.TryParse(buffer.AsSpan(0, written), out WebSocketCloseStatus? status, out string? parsed, out _));
            Assert.Equal((WebSocketCloseStatus)code, status);
            Assert.Equal(reason, parsed);
        }, iter: 500);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData(1003)]
    [InlineData(1007)]
    [InlineData(1014)]
    [InlineData(3000)]
    [InlineData(4999)]
    public void CloseStatusRules_ValidateOutgoing_ValidCode_Passes(int code)
    {
        CloseStatusRules.ValidateOutgoing((WebSocketCloseStatus)code, "fine", "closeStatus", "statusDescription");
        CloseStatusRules.ValidateOutgoing((WebSocketCloseStatus)code, null, "closeStatus", "statusDescription");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(999)]
    [InlineData(1004)]
    [InlineData(1005)]
    [InlineData(1006)]
    [InlineData(1015)]
    [InlineData(2999)]
    [InlineData(5000)]
    public void CloseStatusRules_ValidateOutgoing_CodeNotAllowedOnWire_ThrowsNamingTheStatusParameter(int code)
    {
        var thrown = Assert.Throws<ArgumentOutOfRangeException>(() =>
            CloseStatusRules.ValidateOutgoing((WebSocketCloseStatus)code, null, "closeStatus", "statusDescription"));

        Assert.Equal("closeStatus", thrown.ParamName);
    }

    [Fact]
    public void CloseStatusRules_ValidateOutgoing_Reason123Bytes_Passes()
    {
        CloseStatusRules.ValidateOutgoing(WebSocketCloseStatus.NormalClosure, new string('r', 123), "closeStatus", "statusDescription");
        CloseStatusRules.ValidateOutgoing(WebSocketCloseStatus.NormalClosure, new string('é', 61) + "r", "closeStatus", "statusDescription");
        CloseStatusRules.ValidateOutgoing(WebSocketCloseStatus.NormalClosure, new string('€', 41), "closeStatus", "statusDescription");
    }

    [Theory]
    [InlineData(124, "r")]
    [InlineData(62, "é")]  // 62 characters, 124 bytes
    [InlineData(42, "€")]  // 42 characters, 126 bytes
    [InlineData(31, "😀")] // 62 UTF-16 units, 124 bytes
    public void CloseStatusRules_ValidateOutgoing_ReasonOver123Bytes_ThrowsNamingTheReasonParameter(int repeat, string unit)
    {
        string reason = string.Concat(Enumerable.Repeat(unit, repeat));

        var thrown = Assert.Throws<ArgumentException>(() =>
            CloseStatusRules.ValidateOutgoing(WebSocketCloseStatus.NormalClosure, reason, "closeStatus", "statusDescription"));

        Assert.Equal("statusDescription", thrown.ParamName);
    }
}
