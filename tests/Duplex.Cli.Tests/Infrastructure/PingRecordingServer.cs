using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;

namespace Duplex.Cli.Tests.Infrastructure;

/// <summary>
/// A WebSocket server on 127.0.0.1 written on a bare socket, so that it sees the control frames Kestrel answers by
/// itself: it records when each Ping of the tool arrived and answers it with its Pong, echoes data frames, and answers
/// a Close. Enough of RFC 6455 for the tool's own frames (unfragmented, masked), no more.
/// </summary>
public sealed class PingRecordingServer : LoopbackTcpServer
{
    private const string AcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private readonly Channel<TimeSpan> _pings = Channel.CreateUnbounded<TimeSpan>();
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public PingRecordingServer() => Url = $"ws://127.0.0.1:{Port}/";

    public string Url { get; }

    /// <summary>When the next Ping arrived, on this server's clock.</summary>
    public async Task<TimeSpan> NextPingAsync()
    {
        using var timeout = new CancellationTokenSource(CliProcess.Timeout);
        return await _pings.Reader.ReadAsync(timeout.Token);
    }

    protected override async Task ServeAsync(TcpClient client, NetworkStream stream)
    {
        const string KeyHeader = "sec-websocket-key:";
        string head = await ReadHeadAsync(stream);
        string key = head.Split("\r\n").Single(l => l.StartsWith(KeyHeader, StringComparison.OrdinalIgnoreCase))[KeyHeader.Length..].Trim();
        string accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + AcceptGuid)));
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"), Stopping);
        while (true)
        {
            (int opcode, byte[] payload) = await ReadFrameAsync(stream);
            switch (opcode)
            {
                case 0x9:
                    _pings.Writer.TryWrite(_clock.Elapsed);
                    await WriteFrameAsync(stream, 0xA, payload);
                    break;
                case 0x8:
                    await WriteFrameAsync(stream, 0x8, payload);
                    return;
                case 0x1 or 0x2:
                    await WriteFrameAsync(stream, opcode, payload);
                    break;
            }
        }
    }

    private async Task<(int Opcode, byte[] Payload)> ReadFrameAsync(NetworkStream stream)
    {
        byte[] header = new byte[8];
        await stream.ReadExactlyAsync(header.AsMemory(0, 2), Stopping);
        int opcode = header[0] & 0x0F;
        long length = header[1] & 0x7F;
        if (length == 126)
        {
            await stream.ReadExactlyAsync(header.AsMemory(0, 2), Stopping);
            length = BinaryPrimitives.ReadUInt16BigEndian(header);
        }
        else if (length == 127)
        {
            await stream.ReadExactlyAsync(header.AsMemory(0, 8), Stopping);
            length = checked((long)BinaryPrimitives.ReadUInt64BigEndian(header));
        }

        byte[] mask = new byte[4];
        await stream.ReadExactlyAsync(mask, Stopping);
        byte[] payload = new byte[checked((int)length)];
        await stream.ReadExactlyAsync(payload, Stopping);
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] ^= mask[i % 4];
        }

        return (opcode, payload);
    }

    private async Task WriteFrameAsync(NetworkStream stream, int opcode, byte[] payload)
    {
        using var frame = new MemoryStream();
        frame.WriteByte((byte)(0x80 | opcode));
        if (payload.Length < 126)
        {
            frame.WriteByte((byte)payload.Length);
        }
        else
        {
            frame.WriteByte(126);
            frame.WriteByte((byte)(payload.Length >> 8));
            frame.WriteByte((byte)payload.Length);
        }

        frame.Write(payload);
        await stream.WriteAsync(frame.GetBuffer().AsMemory(0, (int)frame.Length), Stopping);
    }
}
