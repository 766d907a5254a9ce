using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Autobahn case 3 (reserved bits): no extension is negotiated, so a frame with any of RSV1–RSV3 set fails the
/// connection with 1002 (RFC 6455 §5.2) whatever its opcode; messages before it are delivered, the frame itself
/// and anything after it are not, and a Ping after it is never answered.
/// </summary>
public sealed class Case3ReservedBitsTests
{
    private const byte Rsv1 = 0x40;
    private const byte Rsv2 = 0x20;
    private const byte Rsv3 = 0x10;

    public static TheoryData<byte, byte> OpcodesAndBits()
    {
        var data = new TheoryData<byte, byte>();

        // Continuation (0x0) is tested inside a fragmented text message.
        foreach (byte opcode in new byte[] { 0x1, 0x2, 0x0, 0x8, 0x9, 0xA })
        {
            // Autobahn's "RSV = 1..7": RSV3, RSV2, RSV2+RSV3, RSV1, RSV1+RSV3, RSV1+RSV2, all three.
            for (int value = 1; value <= 7; value++)
            {
                data.Add(opcode, (byte)(value << 4));
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OpcodesAndBits))]
    public async Task FrameWithReservedBits_FailsWithProtocolError(byte opcode, byte rsv)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        // A valid message first, then the bad frame, then a Ping and a message that must never be processed.
        await session.WriteAsync(
        [
            .. RawConnection.Frame(0x1, "before"u8),
            .. BadFrame(opcode, rsv),
            .. RawConnection.Frame(0x9, "after"u8),
            .. RawConnection.Frame(0x1, "after"u8),
        ]);

        await session.ExpectTextAsync("before");
        await session.ExpectFailedAsync(1002);
    }

    [Theory]
    [InlineData(0x1, Rsv1)]
    [InlineData(0x1, Rsv2 | Rsv3)]
    [InlineData(0x2, Rsv1 | Rsv2 | Rsv3)]
    [InlineData(0x9, Rsv2)]
    public async Task FrameWithReservedBits_WrittenByteByByte_FailsWithProtocolError(byte opcode, byte rsv)
    {
        // Autobahn 3.4: the same, with every byte in its own TCP write.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteViolationAsync([.. RawConnection.Frame(0x1, "before"u8), .. BadFrame(opcode, rsv)], chunkSize: 1);

        await session.ExpectTextAsync("before");
        await session.ExpectFailedAsync(1002);
    }

    [Fact]
    public async Task PingAnsweredBeforeTheBadFrame_ThenFailure()
    {
        // Autobahn 3.2/3.3: what came before the violation was fully processed, including the Pong.
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteAsync(RawConnection.Frame(0x9, "before"u8));
        RawFrame pong = await session.ReadClientFrameAsync(0xA);
        await session.WriteAsync(RawConnection.Frame(0x1, "bad"u8, rsv: Rsv2));

        Assert.Equal("before", pong.Text);
        await session.ExpectFailedAsync(1002);
    }

    private static byte[] BadFrame(byte opcode, byte rsv) => opcode switch
    {
        0x1 => RawConnection.Frame(0x1, "Hello, world!"u8, rsv: rsv),
        0x2 => RawConnection.Frame(0x2, [0x00, 0xFF, 0xFE, 0xFD], rsv: rsv),
        0x0 => [.. RawConnection.Frame(0x1, "frag-"u8, fin: false), .. RawConnection.Frame(0x0, "ment"u8, rsv: rsv)],
        0x8 => RawConnection.Frame(0x8, RawConnection.ClosePayload(1000, "bye"), rsv: rsv),
        _ => RawConnection.Frame(opcode, "control"u8, rsv: rsv),
    };
}
