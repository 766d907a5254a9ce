using System.Buffers.Binary;
using System.Text;

namespace Duplex.Fuzz;

/// <summary>
/// The committed seed corpus (corpus/&lt;target&gt;/), made here so that it can be read and remade:
/// small valid inputs of every kind the fuzzer should start from, and a few edge cases.
/// </summary>
internal static class SeedCorpus
{
    // Settings bytes: see the targets. 0 is the defaults (no RSV1, 16 MiB limit, chunk seed 0).
    private const byte Defaults = 0x00;
    private const byte AllowRsv1 = 0x01;
    private const byte Limit16 = 0x04;

    public static void Write(string folder)
    {
        Write(folder, "frame-decoder", FrameDecoderSeeds());
        Write(folder, "handshake-response", HandshakeResponseSeeds());
        Write(folder, "utf8-validator", Utf8ValidatorSeeds());
    }

    private static void Write(string folder, string target, IEnumerable<(string Name, byte[] Input)> seeds)
    {
        string directory = Path.Combine(folder, target);
        Directory.CreateDirectory(directory);
        foreach ((string name, byte[] input) in seeds)
        {
            File.WriteAllBytes(Path.Combine(directory, name), input);
        }
    }

    private static IEnumerable<(string, byte[])> FrameDecoderSeeds()
    {
        byte[] hello = "Hello"u8.ToArray();
        yield return ("text-hello", [Defaults, .. Frame(true, 0x1, hello)]);
        yield return ("binary-empty", [Defaults, .. Frame(true, 0x2, [])]);
        yield return ("fragmented-text-with-controls", [
            Defaults,
            .. Frame(false, 0x1, "Hel"u8), .. Frame(true, 0x9, [0x01, 0x02]), .. Frame(false, 0x0, "l"u8),
            .. Frame(true, 0xA, []), .. Frame(true, 0x0, "o"u8)]);
        yield return ("fragmented-binary-empty-fragments", [
            Defaults, .. Frame(false, 0x2, []), .. Frame(false, 0x0, [0x07]), .. Frame(true, 0x0, [])]);
        yield return ("utf8-split-across-fragments", [
            Defaults, .. Frame(false, 0x1, [0xe2]), .. Frame(false, 0x0, [0x82]), .. Frame(true, 0x0, [0xac, 0xf0, 0x9d, 0x84, 0x9e])]);
        yield return ("binary-16bit-length", [Defaults, .. Frame(true, 0x2, Pattern(200))]);
        yield return ("binary-64bit-length-truncated", [Defaults, 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0, .. Pattern(40)]);
        yield return ("ping-pong", [Defaults, .. Frame(true, 0x9, hello), .. Frame(true, 0xA, hello)]);
        yield return ("ping-125", [Defaults, .. Frame(true, 0x9, Pattern(125))]);
        yield return ("close-empty", [Defaults, .. Frame(true, 0x8, [])]);
        yield return ("close-1000-reason", [Defaults, .. Frame(true, 0x8, ClosePayload(1000, "bye"))]);
        yield return ("close-4999-utf8-reason", [Defaults, .. Frame(true, 0x8, ClosePayload(4999, "κόσμε"))]);
        yield return ("messages-then-close", [
            Defaults, .. Frame(true, 0x1, hello), .. Frame(true, 0x2, [0xff, 0x00]), .. Frame(true, 0x8, ClosePayload(1001, ""))]);
        yield return ("compressed-rsv1", [AllowRsv1, .. Frame(false, 0x1, [0xf2, 0x48], rsv: 0b100), .. Frame(true, 0x0, [0xcd, 0xc9])]);
        yield return ("message-over-limit", [Limit16, .. Frame(false, 0x2, Pattern(10)), .. Frame(true, 0x0, Pattern(10))]);
        yield return ("masked-frame", [Defaults, 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        yield return ("invalid-utf8-text", [Defaults, .. Frame(true, 0x1, [0x48, 0xc0, 0x80])]);
        yield return ("close-invalid-code", [Defaults, .. Frame(true, 0x8, ClosePayload(1005, ""))]);
        yield return ("fragmented-ping", [Defaults, .. Frame(false, 0x9, [])]);
        yield return ("non-minimal-length", [Defaults, 0x82, 0x7e, 0x00, 0x05, .. Pattern(5)]);
        yield return ("reserved-opcode", [Defaults, .. Frame(true, 0x3, [])]);
    }

    private static IEnumerable<(string, byte[])> HandshakeResponseSeeds()
    {
        const string Accept = HandshakeResponseTarget.Accept;

        // Settings: bits 0-1 subprotocols (2: chat, superchat.v2), bit 2 the extension, bit 3 a secure URI.
        const byte OfferAll = 0x06;
        const byte Secure = 0x08;
        yield return ("101-minimal", Response(0, $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {Accept}\r\n\r\n"));
        yield return ("101-negotiated", Response(OfferAll,
            $"HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept:{Accept} \r\n" +
            "Sec-WebSocket-Protocol: superchat.v2\r\nSec-WebSocket-Extensions: x-test; a=\"b,c\"; flag\r\nServer: seed\r\n\r\n"));
        yield return ("101-then-frames", [
            0, .. Encoding.Latin1.GetBytes($"HTTP/1.1 101 \r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: {Accept}\r\n\r\n"),
            0x81, 0x02, 0x68, 0x69]);
        yield return ("100-continue-then-101", Response(0,
            $"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {Accept}\r\n\r\n"));
        yield return ("101-wrong-accept", Response(0, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n"));
        yield return ("101-unoffered-subprotocol", Response(0, $"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {Accept}\r\nSec-WebSocket-Protocol: chat\r\n\r\n"));
        yield return ("302-relative", Response(0, "HTTP/1.1 302 Found\r\nLocation: /elsewhere?x=1\r\nContent-Length: 0\r\n\r\n"));
        yield return ("301-absolute-wss", Response(Secure, "HTTP/1.1 301 Moved Permanently\r\nLocation: wss://other.example:9443/a#frag\r\n\r\n"));
        yield return ("307-downgrade", Response(Secure, "HTTP/1.1 307 Temporary Redirect\r\nLocation: ws://other.example/\r\n\r\n"));
        yield return ("503-retry-after-seconds", Response(0, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nContent-Type: text/plain\r\n\r\nbusy"));
        yield return ("429-retry-after-date", Response(0, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: Sun, 01 Jun 2025 12:00:10 GMT\r\n\r\n"));
        yield return ("426-http10", Response(0, "HTTP/1.0 426 Upgrade Required\r\nX-Latin: caf\u00e9\r\nX-Empty:\r\n\r\n"));
        yield return ("obs-fold", Response(0, "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\tcontinued\r\n\r\n"));
        yield return ("bare-lf", Response(0, "HTTP/1.1 101 OK\nUpgrade: websocket\n\n"));
        yield return ("status-line-only", Response(0, "HTTP/1.1 200\r\n\r\n"));
    }

    private static IEnumerable<(string, byte[])> Utf8ValidatorSeeds()
    {
        yield return ("ascii", [0, .. "Hello, world"u8]);
        yield return ("multibyte", [7, .. Encoding.UTF8.GetBytes("κόσμε €𝄞 ü")]);
        yield return ("overlong", [3, 0x41, 0xc0, 0xaf, 0x42]);
        yield return ("surrogate", [5, 0x61, 0xed, 0xa0, 0x80]);
        yield return ("above-10ffff", [9, 0xf4, 0x90, 0x80, 0x80]);
        yield return ("truncated-4-byte", [1, 0x61, 0xf0, 0x9d, 0x84]);
        yield return ("lone-continuation", [2, 0x80, 0x61]);
    }

    private static byte[] Response(byte settings, string text) => [settings, .. Encoding.Latin1.GetBytes(text)];

    /// <summary>An unmasked frame laid out by hand from RFC 6455 §5.2, minimal length encoding.</summary>
    private static byte[] Frame(bool fin, int opcode, ReadOnlySpan<byte> payload, int rsv = 0)
    {
        var frame = new List<byte> { (byte)((fin ? 0x80 : 0) | (rsv << 4) | opcode) };
        Span<byte> length = stackalloc byte[8];
        if (payload.Length <= 125)
        {
            frame.Add((byte)payload.Length);
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            frame.Add(126);
            BinaryPrimitives.WriteUInt16BigEndian(length, (ushort)payload.Length);
            frame.AddRange(length[..2]);
        }
        else
        {
            frame.Add(127);
            BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)payload.Length);
            frame.AddRange(length);
        }

        frame.AddRange(payload);
        return [.. frame];
    }

    private static byte[] ClosePayload(int code, string reason) =>
        [(byte)(code >> 8), (byte)code, .. Encoding.UTF8.GetBytes(reason)];

    private static byte[] Pattern(int length)
    {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i * 31) ^ (i >> 8));
        }

        return bytes;
    }
}
