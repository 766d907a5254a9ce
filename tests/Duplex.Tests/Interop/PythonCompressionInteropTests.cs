using Xunit.Abstractions;
using Duplex.Connection;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>permessage-deflate with the Python <c>websockets</c> server (its default compression settings).</summary>
public sealed class PythonCompressionInteropTests(PythonDeflatePeerFixture peer, ITestOutputHelper output) : CompressionInteropTests, IClassFixture<PythonDeflatePeerFixture>
{
    protected override Uri EchoUri => peer.GetUri("/echo");

    protected override void AssertAnswer(string? answer, WebSocketCompressionOptions offer)
    {
        output.WriteLine($"offered {Describe(offer)}; answered {answer}");
        Assert.NotNull(answer);
        Assert.StartsWith("permessage-deflate", answer);
        Assert.Equal(offer.ServerNoContextTakeover, answer.Contains("server_no_context_takeover", StringComparison.Ordinal));
        Assert.Equal(offer.ClientNoContextTakeover, answer.Contains("client_no_context_takeover", StringComparison.Ordinal));
        Assert.DoesNotContain("client_max_window_bits", answer, StringComparison.Ordinal);
    }
}
