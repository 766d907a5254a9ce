using System.Globalization;
using System.Text;

namespace Duplex.Benchmarks.Server;

/// <summary>
/// <c>/sink</c>: counts the data messages it receives; when a text message "done" arrives, answers
/// with the count of messages before it as a text message, so the client's send count is checked
/// by the server.
/// </summary>
internal sealed class SinkSession : ServerSession
{
    private static readonly byte[] s_done = "done"u8.ToArray();
    private readonly byte[] _capture = new byte[8];
    private long _messages;
    private byte _messageOpcode;
    private int _captured;
    private long _messageLength;

    public SinkSession(Stream stream)
        : base(stream, 64 * 1024)
    {
    }

    protected override void OnFrameStart(byte opcode, bool fin, long length)
    {
        if (opcode != 0)
        {
            _messageOpcode = opcode;
            _captured = 0;
            _messageLength = 0;
        }

        _messageLength += length;
    }

    protected override void OnPayload(ReadOnlySpan<byte> payload)
    {
        int take = Math.Min(payload.Length, _capture.Length - _captured);
        payload.Slice(0, take).CopyTo(_capture.AsSpan(_captured));
        _captured += take;
    }

    protected override void OnFrameEnd(byte opcode, bool fin)
    {
        if (!fin)
        {
            return;
        }

        if (_messageOpcode == ServerFrames.Text && _messageLength == s_done.Length && _capture.AsSpan(0, _captured).SequenceEqual(s_done))
        {
            ServerFrames.WriteFrame(Output, ServerFrames.Text, Encoding.ASCII.GetBytes(_messages.ToString(CultureInfo.InvariantCulture)));
            _messages = 0;
            return;
        }

        _messages++;
    }
}
