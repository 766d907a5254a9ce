namespace Duplex.Benchmarks.Server;

/// <summary><c>/idle</c>: holds the connection open, answering Pings and Close, with a small read buffer.</summary>
internal sealed class IdleSession : ServerSession
{
    public IdleSession(Stream stream)
        : base(stream, 512)
    {
    }

    protected override void OnFrameStart(byte opcode, bool fin, long length)
    {
    }

    protected override void OnPayload(ReadOnlySpan<byte> payload)
    {
    }

    protected override void OnFrameEnd(byte opcode, bool fin)
    {
    }
}
