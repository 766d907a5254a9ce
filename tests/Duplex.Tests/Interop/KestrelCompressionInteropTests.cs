using Xunit.Abstractions;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>permessage-deflate with Kestrel (<c>DangerousEnableCompression</c>, ASP.NET Core's defaults).</summary>
public sealed class KestrelCompressionInteropTests(KestrelDeflateFixture kestrel, ITestOutputHelper output) : CompressionInteropTests, IClassFixture<KestrelDeflateFixture>
{
    protected override Uri EchoUri => kestrel.Host.GetUri(KestrelDeflateFixture.Path);

    protected override void AssertAnswer(string? answer, WebSocketCompressionOptions offer)
    {
        output.WriteLine($"offered {Describe(offer)}; answered {answer}");
        Assert.NotNull(answer);
        Assert.StartsWith("permessage-deflate", answer);
        Assert.Equal(offer.ServerNoContextTakeover, answer.Contains("server_no_context_takeover", StringComparison.Ordinal));
        Assert.Equal(offer.ClientNoContextTakeover, answer.Contains("client_no_context_takeover", StringComparison.Ordinal));
        Assert.Equal(offer.ServerMaxWindowBits is not null, answer.Contains("server_max_window_bits", StringComparison.Ordinal));
        Assert.DoesNotContain("client_max_window_bits", answer, StringComparison.Ordinal);
    }
}
