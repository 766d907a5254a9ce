using System.Text;
using Duplex.Handshake.Rules;

namespace Duplex.Tests.Handshake;

public sealed class Http11BodyRulesTests
{
    [Theory]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nContent-Length: 5\r\n\r\n", "None", 0)]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", "None", 0)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "None", 0)]
    [InlineData("HTTP/1.1 403 Forbidden\r\nContent-Length: 12\r\n\r\n", "ContentLength", 12)]
    [InlineData("HTTP/1.1 403 Forbidden\r\nContent-Length: 12, 12\r\nContent-Length: 12\r\n\r\n", "ContentLength", 12)]
    [InlineData("HTTP/1.1 403 Forbidden\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n", "None", 0)]
    [InlineData("HTTP/1.1 403 Forbidden\r\nContent-Length: -1\r\n\r\n", "None", 0)]
    [InlineData("HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 12\r\n\r\n", "Chunked", 0)]
    [InlineData("HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "UntilClose", 0)]
    [InlineData("HTTP/1.1 403 Forbidden\r\n\r\n", "UntilClose", 0)]
    public void GetFraming_FollowsRfc9112Section6(string head, string expected, long expectedLength)
    {
        Http11ResponseHead parsed = Http11ResponseHead.Parse(Encoding.ASCII.GetBytes(head), out string? error)!;
        Assert.Null(error);

        Assert.Equal(Enum.Parse<Http11BodyFraming>(expected), Http11BodyRules.GetFraming(parsed, out long length));
        Assert.Equal(expectedLength, length);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("1a", 0x1a)]
    [InlineData("FF;name=value", 0xff)]
    [InlineData("10 ;ext", 0x10)]
    [InlineData("fffffffffffffff", 0xfffffffffffffff)]
    public void ParseChunkSize_HexadecimalWithExtensions(string line, long expected)
    {
        Assert.Equal(expected, Http11BodyRules.ParseChunkSize(Encoding.ASCII.GetBytes(line)));
    }

    [Theory]
    [InlineData("")]
    [InlineData(";ext")]
    [InlineData("xyz")]
    [InlineData("-1")]
    [InlineData("1000000000000000")]
    public void ParseChunkSize_NotASize_Throws(string line)
    {
        Assert.Throws<InvalidDataException>(() => Http11BodyRules.ParseChunkSize(Encoding.ASCII.GetBytes(line)));
    }
}
