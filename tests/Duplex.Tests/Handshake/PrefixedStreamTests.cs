using Duplex.Handshake;
using Duplex.Handshake.Transports;

namespace Duplex.Tests.Handshake;

/// <summary>The stream that puts bytes read together with the 101 back in front of the connection.</summary>
public sealed class PrefixedStreamTests
{
    [Fact]
    public async Task ReadAsync_YieldsThePrefixFirst_ThenTheInnerStream()
    {
        var inner = new ScriptedStream("inner"u8.ToArray());
        await using var stream = new PrefixedStream("prefix"u8.ToArray(), inner);
        byte[] buffer = new byte[4];

        Assert.Equal(4, await stream.ReadAsync(buffer));
        Assert.Equal("pref"u8.ToArray(), buffer);
        Assert.Equal(2, await stream.ReadAsync(buffer));
        Assert.Equal("ix"u8.ToArray(), buffer[..2]);
        Assert.Equal(0, inner.Reads);
        Assert.Equal(0, stream.PrefixRemaining);

        Assert.Equal(4, await stream.ReadAsync(buffer));
        Assert.Equal("inne"u8.ToArray(), buffer);
        Assert.Equal(1, inner.Reads);
    }

    [Fact]
    public void Read_Synchronous_YieldsThePrefixFirst_ThenTheInnerStream()
    {
        using var stream = new PrefixedStream([1, 2], new ScriptedStream([3]));
        byte[] buffer = new byte[8];

        Assert.Equal(2, stream.Read(buffer, 0, 8));
        Assert.Equal(3, stream.ReadByte());
        Assert.Equal(-1, stream.ReadByte());
    }

    [Fact]
    public async Task ZeroByteRead_WhilePrefixRemains_CompletesAtOnce_WithoutTouchingTheInnerStream()
    {
        var inner = new ScriptedStream([]) { BlockZeroByteReads = true };
        await using var stream = new PrefixedStream([42], inner);

        ValueTask<int> zero = stream.ReadAsync(Memory<byte>.Empty);

        Assert.True(zero.IsCompletedSuccessfully);
        Assert.Equal(0, await zero);
        Assert.Equal(0, inner.Reads);
        Assert.Equal(1, stream.PrefixRemaining);
    }

    [Fact]
    public async Task ZeroByteRead_OnceDrained_IsPassedToTheInnerStream()
    {
        var inner = new ScriptedStream([7]);
        await using var stream = new PrefixedStream([42], inner);
        byte[] one = new byte[1];
        Assert.Equal(1, await stream.ReadAsync(one));

        Assert.Equal(0, await stream.ReadAsync(Memory<byte>.Empty));

        Assert.Equal(1, inner.ZeroByteReads);
    }

    [Fact]
    public async Task WritesAndFlushes_GoStraightThrough_AndDisposeDisposesTheInnerStream()
    {
        var inner = new ScriptedStream([]);
        var stream = new PrefixedStream([1], inner);

        await stream.WriteAsync("ab"u8.ToArray());
        stream.Write("c"u8);
        await stream.FlushAsync();
        await stream.DisposeAsync();

        Assert.Equal("abc"u8.ToArray(), inner.Written.ToArray());
        Assert.True(inner.Flushed);
        Assert.True(inner.Disposed);
        Assert.Equal(0, stream.PrefixRemaining);
    }

    [Fact]
    public async Task ReadAsync_Canceled_WhilePrefixRemains_IsCanceled()
    {
        await using var stream = new PrefixedStream([1], new ScriptedStream([]));
        using var canceled = new CancellationTokenSource();
        await canceled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.ReadAsync(new byte[1], canceled.Token).AsTask());
        Assert.Equal(1, stream.PrefixRemaining);
    }

    /// <summary>A stream with scripted bytes to read, that records what happens to it.</summary>
    private sealed class ScriptedStream(byte[] readable) : Stream
    {
        private int _position;

        public int Reads { get; private set; }

        public int ZeroByteReads { get; private set; }

        public bool BlockZeroByteReads { get; init; }

        public MemoryStream Written { get; } = new();

        public bool Flushed { get; private set; }

        public bool Disposed { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (buffer.IsEmpty)
            {
                ZeroByteReads++;
                if (BlockZeroByteReads)
                {
                    throw new InvalidOperationException("The inner stream was asked for a zero-byte read.");
                }

                return 0;
            }

            Reads++;
            int count = Math.Min(buffer.Length, readable.Length - _position);
            readable.AsSpan(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override void Write(byte[] buffer, int offset, int count) => Written.Write(buffer, offset, count);

        public override void Flush() => Flushed = true;

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
