using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Conformance;

/// <summary>
/// Autobahn case 4 (opcodes): the reserved non-control opcodes 3–7 (4.1.x) and control opcodes 11–15 (4.2.x) fail
/// the connection with 1002 (RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail
/// the WebSocket Connection_"), with or without payload, after a valid message, and before a Ping that then goes
/// unanswered.
/// </summary>
public sealed class Case4OpcodesTests
{
    public static TheoryData<byte, bool> ReservedOpcodes()
    {
        var data = new TheoryData<byte, bool>();
        foreach (byte opcode in new byte[] { 3, 4, 5, 6, 7, 11, 12, 13, 14, 15 })
        {
            data.Add(opcode, false);
            data.Add(opcode, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ReservedOpcodes))]
    public async Task ReservedOpcode_FailsWithProtocolError(byte opcode, bool withPayload)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();
        byte[] payload = withPayload ? "reserved opcode payload"u8.ToArray() : [];

        await session.WriteAsync(
        [
            .. RawConnection.Frame(0x1, "before"u8),
            .. RawConnection.Frame(opcode, payload),
            .. RawConnection.Frame(0x9, "after"u8),
        ]);

        await session.ExpectTextAsync("before");
        await session.ExpectFailedAsync(1002);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(13)]
    public async Task ReservedOpcode_HeaderOnly_FailsWithoutWaitingForThePayload(byte opcode)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        // The header announces 100 bytes that never come: the opcode alone decides.
        await session.WriteAsync(RawConnection.FrameHeader(opcode, 100));

        await session.ExpectFailedAsync(1002);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(12)]
    public async Task ReservedOpcode_InsideFragmentedMessage_FailsWithProtocolError(byte opcode)
    {
        await using ConformanceSession session = await ConformanceSession.OpenAsync();

        await session.WriteViolationAsync(
        [
            .. RawConnection.Frame(0x1, "frag"u8, fin: false),
            .. RawConnection.Frame(opcode, "x"u8),
            .. RawConnection.Frame(0x0, "ment"u8),
        ], chunkSize: 1);

        await session.ExpectFailedAsync(1002);
    }
}
