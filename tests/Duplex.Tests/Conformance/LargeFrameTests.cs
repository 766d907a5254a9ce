using System.Security.Cryptography;
using System.Text;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Frames large enough that their middle is read straight into the message's chunk, bypassing the
/// read buffer: the data must arrive intact and the protocol checks must still apply.
/// </summary>
public sealed class LargeFrameTests
{
    [Theory]
    [InlineData(100_000, 0)]
    [InlineData(3 * 1024 * 1024 + 17, 0)]
    [InlineData(300_000, 7_919)]
    public async Task LargeBinaryFrame_ReadStraightIntoChunks_ArrivesIntact(int size, int chunkSize)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync(o => o.MaxMessageSize = 8 * 1024 * 1024);
        byte[] payload = RandomNumberGenerator.GetBytes(size);
        await session.WriteAsync(RawConnection.Frame(0x2, payload), chunkSize);
        await session.ExpectBinaryAsync(payload);
    }

    [Fact]
    public async Task LargeTextFrame_InvalidUtf8DeepInside_FailsWith1007()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = Encoding.UTF8.GetBytes(new string('a', 200_000));
        payload[150_000] = 0xFF;
        await session.WriteAsync(RawConnection.Frame(0x1, payload), chunkSize: 16 * 1024);
        await session.ExpectFailedAsync(1007);
    }

    [Fact]
    public async Task LargeTextFrame_MultibyteAcrossDirectReads_ArrivesIntact()
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        string text = string.Concat(Enumerable.Repeat("κόσμε 😀 ", 40_000));
        await session.WriteAsync(RawConnection.Frame(0x1, Encoding.UTF8.GetBytes(text)), chunkSize: 10_007);
        await session.ExpectTextAsync(text);
    }
}
