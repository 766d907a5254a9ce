using Duplex.Diagnostics;

namespace Duplex.Tests.Diagnostics;

public sealed class RedactionTests
{
    [Theory]
    [InlineData("Authorization")]
    [InlineData("proxy-authorization")]
    [InlineData("Cookie")]
    [InlineData("Set-Cookie")]
    [InlineData("X-Api-Key")]
    [InlineData("X-Auth-Token")]
    [InlineData("X-Session-Id")]
    [InlineData("X-Client-Secret")]
    [InlineData("X-Signature")]
    [InlineData("X-Password")]
    [InlineData("Sec-WebSocket-Key")]
    public void IsSensitiveHeader_CredentialLikeNames_AreSensitive(string name)
    {
        Assert.True(Redaction.IsSensitiveHeader(name));
        Assert.Equal(Redaction.Mask, Redaction.HeaderValue(name, "hunter2"));
    }

    [Theory]
    [InlineData("Origin")]
    [InlineData("Accept-Language")]
    [InlineData("User-Agent")]
    [InlineData("X-Tenant")]
    [InlineData("Sec-WebSocket-Protocol")]
    public void IsSensitiveHeader_OrdinaryNames_AreShown(string name)
    {
        Assert.False(Redaction.IsSensitiveHeader(name));
        Assert.Equal("value", Redaction.HeaderValue(name, "value"));
    }

    [Fact]
    public void HeaderValue_Null_IsEmpty()
    {
        Assert.Equal(string.Empty, Redaction.HeaderValue("Origin", null));
    }

    [Theory]
    [InlineData("wss://example.com/socket?token=abc&room=1", "wss://example.com/socket?token=***&room=1")]
    [InlineData("ws://example.com/?api_key=k1&AccessToken=t&x=2", "ws://example.com/?api_key=***&AccessToken=***&x=2")]
    [InlineData("ws://example.com/?session%5Fid=s", "ws://example.com/?session_id=***")]
    [InlineData("ws://example.com/?password=p&flag", "ws://example.com/?password=***&flag")]
    [InlineData("ws://example.com/?my%20token=t", "ws://example.com/?my%20token=***")]
    [InlineData("ws://example.com/plain?room=1", "ws://example.com/plain?room=1")]
    [InlineData("ws://example.com:8080/p", "ws://example.com:8080/p")]
    [InlineData("wss://example.com:443/p", "wss://example.com/p")]
    public void Uri_MasksSensitiveQueryParameters(string input, string expected)
    {
        Assert.Equal(expected, Redaction.Uri(new Uri(input)));
    }

    [Fact]
    public void Uri_DropsUserInformation()
    {
        string redacted = Redaction.Uri(new Uri("wss://alice:s3cr3t@example.com/chat"));

        Assert.Equal("wss://example.com/chat", redacted);
        Assert.DoesNotContain("s3cr3t", redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", redacted, StringComparison.Ordinal);
    }

    [Fact]
    public void Uri_Ipv6Literal_KeepsBrackets()
    {
        Assert.Equal("ws://[::1]:9001/x?token=***", Redaction.Uri(new Uri("ws://[::1]:9001/x?token=t")));
    }

    [Fact]
    public void Uri_RelativeUri_IsReturnedAsGiven()
    {
        Assert.Equal("/chat", Redaction.Uri(new Uri("/chat", UriKind.Relative)));
    }

    [Theory]
    [InlineData("pwd")]
    [InlineData("sig")]
    [InlineData("signature")]
    [InlineData("code")]
    [InlineData("jwt")]
    [InlineData("ticket")]
    [InlineData("session")]
    [InlineData("credential")]
    [InlineData("X-Amz-Signature")]
    [InlineData("X-Amz-Credential")]
    [InlineData("id_token")]
    [InlineData("PASS")]
    public void IsSensitiveParameter_CredentialLikeNames_AreSensitive(string name)
    {
        Assert.True(Redaction.IsSensitiveParameter(name));
    }

    [Theory]
    [InlineData("room")]
    [InlineData("design")]
    [InlineData("zipcode")]
    [InlineData("page")]
    public void IsSensitiveParameter_OrdinaryNames_AreShown(string name)
    {
        Assert.False(Redaction.IsSensitiveParameter(name));
    }

    [Theory]
    [InlineData("Location", "/next?token=t&room=1", "/next?token=***&room=1")]
    [InlineData("Location", "wss://u:p@other.example/next?code=c#frag", "wss://other.example/next?code=***")]
    [InlineData("location", "next?sig=s", "next?sig=***")]
    [InlineData("Content-Location", "/a?jwt=j", "/a?jwt=***")]
    [InlineData("Referer", "https://example.com/p?ticket=t", "https://example.com/p?ticket=***")]
    [InlineData("Location", "/plain", "/plain")]
    [InlineData("Location", "/r?x=1#token=t", "/r?x=1")]
    public void HeaderValue_UrlHeaders_HaveTheirQueryRedacted(string name, string value, string expected)
    {
        Assert.Equal(expected, Redaction.HeaderValue(name, value));
    }

    [Fact]
    public void Uri_RelativeUriWithQuery_IsRedacted()
    {
        Assert.Equal("/chat?token=***", Redaction.Uri(new Uri("/chat?token=t", UriKind.Relative)));
    }
}
