using System.Net;
using System.Text;
using CsCheck;
using Duplex.Handshake;
using Duplex.Handshake.Rules;
using Duplex.Tests.Protocol;

namespace Duplex.Tests.Handshake;

/// <summary>The strict HTTP/1.1 response-head reader of the socket transport, byte-exact.</summary>
public sealed class Http11ResponseHeadTests
{
    private const string Head101 =
        "HTTP/1.1 101 Switching Protocols\r\n" +
        "upgrade: websocket\r\n" +
        "Connection:Upgrade\r\n" +
        "Sec-WebSocket-Accept: \t s3pPLMBiTxaQ9kYGzzhZRbK+xOo= \t\r\n" +
        "X-Multi: a\r\n" +
        "x-multi: b, c\r\n" +
        "X-Empty:\r\n" +
        "X-Latin: caf\u00e9\r\n" +
        "\r\n";

    [Fact]
    public void Parse_WholeHead_ReadsStatusAndHeaders()
    {
        Http11ResponseHead head = ParseValid(Head101);

        Assert.Equal(HttpVersion.Version11, head.Version);
        Assert.Equal(101, head.StatusCode);
        Assert.Equal("Switching Protocols", head.ReasonPhrase);
        Assert.Equal(["websocket"], head.Headers["Upgrade"]);
        Assert.Equal(["Upgrade"], head.Headers["connection"]);
        Assert.Equal(["s3pPLMBiTxaQ9kYGzzhZRbK+xOo="], head.Headers["Sec-WebSocket-Accept"]);
        Assert.Equal(["a", "b, c"], head.Headers["X-MULTI"]);
        Assert.Equal([string.Empty], head.Headers["X-Empty"]);
        Assert.Equal(["caf\u00e9"], head.Headers["X-Latin"]);
    }

    [Fact]
    public void Parse_KnownNamesAndValues_AreSharedInstancesInTheirUsualSpelling()
    {
        Http11ResponseHead first = ParseValid(Head101);
        Http11ResponseHead second = ParseValid(Head101);

        string name = Assert.Single(first.Headers.Keys, k => k.Equals("upgrade", StringComparison.OrdinalIgnoreCase));
        Assert.Equal("Upgrade", name);
        Assert.Same(first.Headers["Upgrade"][0], second.Headers["Upgrade"][0]);
    }

    [Theory]
    [InlineData("HTTP/1.1 101\r\n\r\n", 101, null)]
    [InlineData("HTTP/1.1 101 \r\n\r\n", 101, null)]
    [InlineData("HTTP/1.1 403 Forbidden, really\r\n\r\n", 403, "Forbidden, really")]
    [InlineData("HTTP/1.1 599 x\ty\r\n\r\n", 599, "x\ty")]
    [InlineData("HTTP/1.0 503 Busy\r\n\r\n", 503, "Busy")]
    public void Parse_StatusLine_CodeAndReason(string text, int status, string? reason)
    {
        Http11ResponseHead head = ParseValid(text);

        Assert.Equal(status, head.StatusCode);
        Assert.Equal(reason, head.ReasonPhrase);
    }

    [Theory]
    [InlineData("HTTP/1.1 101 OK\nX: y\r\n\r\n", "bare LF")]
    [InlineData("HTTP/1.1 101 OK\r\nX: y\n\r\n", "bare LF")]
    [InlineData("HTTP/1.1 101 OK\r\nX: y\r\n\n", "bare LF")]
    [InlineData("\nHTTP/1.1 101 OK\r\n\r\n", "bare LF")]
    [InlineData("HTTP/1.1 101 OK\r\nX: \0\r\n\r\n", "NUL")]
    [InlineData("HTTP/1.1 101 O\0K\r\n\r\n", "NUL")]
    public void FindEnd_LineRuleBroken_IsAnError(string text, string rule)
    {
        int scanned = 0;
        int lineStart = 0;

        int end = Http11ResponseHead.FindEnd(Encoding.Latin1.GetBytes(text), ref scanned, ref lineStart, out string? error);

        Assert.Equal(0, end);
        Assert.Contains(rule, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HTTP/1.1 101 OK\r\nX: a\rb\r\n\r\n", "control character")]
    [InlineData("HTTP/1.1 101 OK\r\nX: a\u007fb\r\n\r\n", "control character")]
    [InlineData("HTTP/1.1 101 OK\r\nX: a\u001bb\r\n\r\n", "control character")]
    [InlineData("HTTP/1.1 101 OK\r\nX: a\r\n\tb\r\n\r\n", "obs-fold")]
    [InlineData("HTTP/1.1 101 OK\r\nX: a\r\n b\r\n\r\n", "obs-fold")]
    [InlineData("HTTP/1.1 101 OK\r\nX : a\r\n\r\n", "name followed by a colon")]
    [InlineData("HTTP/1.1 101 OK\r\n: a\r\n\r\n", "name followed by a colon")]
    [InlineData("HTTP/1.1 101 OK\r\nX(y): a\r\n\r\n", "name followed by a colon")]
    [InlineData("HTTP/1.1 101 OK\r\nX\u00e9: a\r\n\r\n", "name followed by a colon")]
    [InlineData("HTTP/1.1 101 OK\r\nNo colon\r\n\r\n", "name followed by a colon")]
    [InlineData("HTTP/1.1 101 O\u0001K\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 101 O\rK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.2 101 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 10 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 1010 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 001 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 -01 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1\t101 OK\r\n\r\n", "status line")]
    [InlineData("HTTP/1.1 101\tOK\r\n\r\n", "status line")]
    [InlineData("ICY 200 OK\r\n\r\n", "status line")]
    [InlineData("\r\n\r\n", "status line")]
    public void Parse_FieldRuleBroken_IsAnError(string text, string rule)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        int scanned = 0;
        int lineStart = 0;
        int end = Http11ResponseHead.FindEnd(bytes, ref scanned, ref lineStart, out string? error);
        Assert.Null(error);

        Http11ResponseHead? head = Http11ResponseHead.Parse(bytes.AsSpan(0, end), out error);

        Assert.Null(head);
        Assert.Contains(rule, error, StringComparison.Ordinal);
    }

    [Fact]
    public void FindEnd_LineOfExactlyTheLimit_IsAccepted_OneMoreIsNot()
    {
        string prefix = "HTTP/1.1 101 OK\r\nX: ";
        string fits = prefix + new string('a', Http11ResponseHead.MaxLineBytes - "X: \r\n".Length) + "\r\n\r\n";
        string tooLong = prefix + new string('a', Http11ResponseHead.MaxLineBytes - "X: \r\n".Length + 1) + "\r\n\r\n";

        Assert.Equal(Http11ResponseHead.MaxLineBytes, ParseValid(fits).Headers["X"][0].Length + "X: \r\n".Length);
        int scanned = 0;
        int lineStart = 0;
        Assert.Equal(0, Http11ResponseHead.FindEnd(Encoding.ASCII.GetBytes(tooLong), ref scanned, ref lineStart, out string? error));
        Assert.Contains($"longer than {Http11ResponseHead.MaxLineBytes} bytes", error, StringComparison.Ordinal);
    }

    [Fact]
    public void FindEnd_EndlessLine_FailsOnceTheLimitIsReached_WithoutWaitingForTheRest()
    {
        byte[] endless = Encoding.ASCII.GetBytes("HTTP/1.1 101 " + new string('a', 2 * Http11ResponseHead.MaxLineBytes));
        int scanned = 0;
        int lineStart = 0;
        string? error = null;
        int fedUntilError = 0;
        for (int fed = 1; fed <= endless.Length && error is null; fed++)
        {
            Http11ResponseHead.FindEnd(endless.AsSpan(0, fed), ref scanned, ref lineStart, out error);
            fedUntilError = fed;
        }

        Assert.NotNull(error);
        Assert.Equal(Http11ResponseHead.MaxLineBytes, fedUntilError);
    }

    [Fact]
    public void FindEnd_HeadFedWholeByteByByteOrInRandomChunks_EndsAtTheSamePlace_AndLeavesWhatFollows()
    {
        byte[] bytes = [.. Encoding.Latin1.GetBytes(Head101), 0x81, 0x02, (byte)'h', (byte)'i'];
        int expected = Encoding.Latin1.GetByteCount(Head101);

        Assert.Equal(expected, FeedInPieces(bytes, Chunking.Whole));
        Assert.Equal(expected, FeedInPieces(bytes, Chunking.ByteByByte));
        Chunking.Random.Sample(sizes => Assert.Equal(expected, FeedInPieces(bytes, sizes)));
    }

    [Fact]
    public void FindEnd_AnyHeadOfValidLines_ParsesToTheHeadersItWasMadeOf()
    {
        Gen<string> token = Gen.Char["!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"].Array[1, 12].Select(c => new string(c));
        Gen<string> value = Gen.Char[' ', '~'].Array[0, 40].Select(c => new string(c).Trim(' '));
        Gen<(string, string)[]> fields = Gen.Select(token, value).Array[0, 12];

        Gen.Select(fields, Chunking.Random).Sample((list, sizes) =>
        {
            var text = new StringBuilder("HTTP/1.1 426 Upgrade Required\r\n");
            foreach ((string name, string v) in list)
            {
                text.Append(name).Append(':').Append(' ').Append(v).Append("\r\n");
            }

            byte[] bytes = Encoding.ASCII.GetBytes(text.Append("\r\n").ToString());
            int end = FeedInPieces(bytes, sizes);
            Http11ResponseHead head = Http11ResponseHead.Parse(bytes.AsSpan(0, end), out string? error) ?? throw new InvalidOperationException(error);

            Assert.Equal(bytes.Length, end);
            Assert.Equal(426, head.StatusCode);
            foreach (IGrouping<string, string> group in list.GroupBy(f => f.Item1, f => f.Item2, StringComparer.OrdinalIgnoreCase))
            {
                Assert.Equal(group.ToArray(), head.Headers[group.Key]);
            }
        });
    }

    /// <summary>Feeds <paramref name="bytes"/> to <see cref="Http11ResponseHead.FindEnd"/> as they would arrive in pieces; the head's length.</summary>
    private static int FeedInPieces(byte[] bytes, int[] sizes)
    {
        int scanned = 0;
        int lineStart = 0;
        foreach ((int start, int length) in Chunking.Pieces(bytes.Length, sizes))
        {
            int end = Http11ResponseHead.FindEnd(bytes.AsSpan(0, start + length), ref scanned, ref lineStart, out string? error);
            Assert.Null(error);
            if (end > 0)
            {
                return end;
            }
        }

        return 0;
    }

    private static Http11ResponseHead ParseValid(string text)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        int scanned = 0;
        int lineStart = 0;
        int end = Http11ResponseHead.FindEnd(bytes, ref scanned, ref lineStart, out string? error);
        Assert.Null(error);
        Assert.Equal(bytes.Length, end);
        return Http11ResponseHead.Parse(bytes, out error) ?? throw new InvalidOperationException(error);
    }
}
