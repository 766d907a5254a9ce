namespace Duplex.Benchmarks.Server;

/// <summary>
/// <c>/push?count=N&amp;size=S</c>: right after the upgrade, writes N identical text frames of S
/// bytes, pre-built and sent in chunks of about 64 KiB, then waits for the client's Close.
/// </summary>
internal sealed class PushSession : ServerSession
{
    private const int ChunkBytes = 64 * 1024;
    private readonly long _count;
    private readonly int _size;

    public PushSession(Stream stream, long count, int size)
        : base(stream, 4096)
    {
        _count = count;
        _size = size;
    }

    protected override async Task OnOpenAsync(CancellationToken cancellationToken)
    {
        (byte[] run, int framesPerRun) = ServerFrames.BuildTextRun(_size, ChunkBytes);
        int frameLength = run.Length / framesPerRun;
        long left = _count;
        while (left > 0)
        {
            int frames = (int)Math.Min(left, framesPerRun);
            await Stream.WriteAsync(run.AsMemory(0, frames * frameLength), cancellationToken).ConfigureAwait(false);
            left -= frames;
        }

        await Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
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
