using Duplex.Connection.Send;

namespace Duplex.Tests.Connection.Send;

/// <summary>Where a send's write runs: on the sender's thread, or handed to the pool to coalesce with the sends behind it.</summary>
public sealed class FrameSenderWritePolicyTests
{
    [Fact]
    public void WritesInline_ASendRightAfterTheLastWrite_WithNothingReceivedBetween_IsLeftToThePool()
    {
        Assert.False(FrameSender.WritesInline(readsNow: 7, readsAtLastWrite: 7, TimeSpan.FromMicroseconds(2)));
    }

    [Fact]
    public void WritesInline_ASendThatAnswersWhatArrivedSinceTheLastWrite_WritesInline_HoweverSoon()
    {
        Assert.True(FrameSender.WritesInline(readsNow: 8, readsAtLastWrite: 7, TimeSpan.Zero));
    }

    [Fact]
    public void WritesInline_ASendOnAQuietConnection_WritesInline()
    {
        Assert.True(FrameSender.WritesInline(readsNow: 7, readsAtLastWrite: 7, TimeSpan.FromMilliseconds(1)));
    }
}
