using System.Text;
using Duplex.Handshake;
using Duplex.Handshake.Rules;

namespace Duplex.Tests.Handshake;

public sealed class Http11UpgradeRequestTests
{
    [Fact]
    public void Format_Rfc6455SampleRequest_IsByteExact()
    {
        var options = new WebSocketHandshakeOptions { SubProtocols = ["chat", "superchat"] };
        var headers = new Dictionary<string, string> { ["Origin"] = "http://example.com" };

        string request = Http11UpgradeRequest.Format(new Uri("http://server.example.com/chat?x=1"), headers, options, "dGhlIHNhbXBsZSBub25jZQ==");

        // RFC 6455 §1.2's sample request, in the order this client sends it: Host, the caller's
        // headers, then the handshake's own.
        Assert.Equal(
            "GET /chat?x=1 HTTP/1.1\r\n" +
            "Host: server.example.com\r\n" +
            "Origin: http://example.com\r\n" +
            "Connection: Upgrade\r\n" +
            "Upgrade: websocket\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            "Sec-WebSocket-Version: 13\r\n" +
            "Sec-WebSocket-Protocol: chat, superchat\r\n" +
            "\r\n",
            request);
        Assert.True(Encoding.ASCII.GetByteCount(request) == request.Length);
    }

    [Fact]
    public void Format_TargetHostAndNonDefaultPort_GoInTheHostLine()
    {
        var options = new WebSocketHandshakeOptions();
        options.Tls.TargetHost = "api.example.com";

        string request = Http11UpgradeRequest.Format(new Uri("https://10.0.0.1:8443/"), new Dictionary<string, string>(), options, "k");

        Assert.StartsWith("GET / HTTP/1.1\r\nHost: api.example.com:8443\r\n", request, StringComparison.Ordinal);
    }

    [Fact]
    public void GetHeaders_AreTheLinesFormatWrites_InOrder()
    {
        var options = new WebSocketHandshakeOptions();
        var uri = new Uri("http://example.com/");
        var headers = new Dictionary<string, string> { ["Authorization"] = "Bearer t" };

        string[] lines = Http11UpgradeRequest.Format(uri, headers, options, "k").Split("\r\n")[1..^2];

        Assert.Equal(lines, Http11UpgradeRequest.GetHeaders(uri, headers, options, "k").Select(h => h.Key + ": " + h.Value));
    }

    [Fact]
    public void HandshakeHeaders_WithoutKey_AreThoseOfAnHttp2ExtendedConnect()
    {
        // RFC 8441 §4: no Connection, Upgrade or Sec-WebSocket-Key on an extended CONNECT.
        KeyValuePair<string, string>[] headers = [.. HandshakeHeaders.Get(key: null, ["chat"], [])];

        Assert.Equal(
            [new("Sec-WebSocket-Version", "13"), new("Sec-WebSocket-Protocol", "chat")],
            headers);
    }
}
