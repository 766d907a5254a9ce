using Xunit.Abstractions;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>permessage-deflate with the Node <c>ws</c> server (its defaults: messages under 1 KiB come back uncompressed).</summary>
public sealed class NodeCompressionInteropTests(NodeDeflatePeerFixture peer, ITestOutputHelper output) : CompressionInteropTests, IClassFixture<NodeDeflatePeerFixture>
{
    protected override Uri EchoUri => peer.GetUri("/echo");

    protected override void AssertAnswer(string? answer, WebSocketCompressionOptions offer)
    {
        output.WriteLine($"offered {Describe(offer)}; answered {answer}");
        Assert.NotNull(answer);
        Assert.StartsWith("permessage-deflate", answer);
        Assert.Equal(offer.ServerNoContextTakeover, answer.Contains("server_no_context_takeover", StringComparison.Ordinal));
        Assert.Equal(offer.ServerMaxWindowBits is { } bits, answer.Contains("server_max_window_bits", StringComparison.Ordinal));
        Assert.DoesNotContain("client_max_window_bits", answer, StringComparison.Ordinal);
    }
}
