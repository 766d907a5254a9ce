using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// One connection through a <see cref="FaultInjectingProxy"/>: a client socket, a socket to the target, and
/// one pump per direction. Faults apply at once (<see cref="Apply"/>) or when a trigger strikes
/// (<see cref="Schedule"/>). Counts what it received, forwarded and lost each way.
/// </summary>
/// <remarks>
/// <para>Each direction has a reader, which reads from its source into a queue, and a writer, which forwards
/// from that queue, honouring stalls, delays and drips. The reader reads only while the proxy holds less than
/// the direction allows: up to 256 KiB on a flowing or delayed link, a few drips' worth on a dripping one,
/// nothing on a stalled one. So a stalled or crawling link backs up into the kernel buffers and the sender's
/// writes soon block, as on a real link that went dark (nothing is acknowledged any more).</para>
/// <para>Lost bytes, once <see cref="Completion"/> has completed: those the proxy read but never forwarded,
/// plus those still queued in its sockets' kernel receive buffers when a <see cref="ProxyFaultKind.Reset"/>
/// cut the link, plus those it read and dropped after a <see cref="ProxyFaultKind.Fin"/>. Bytes that sat
/// in the peers' own kernel send buffers, or that the target had not read yet, are beyond what a proxy can
/// see. A chunk whose write was cut part-way counts as not forwarded.</para>
/// <para>Thread safety: every member may be called from any thread. Faults are applied on the calling
/// thread; a reset closes the sockets before <see cref="Apply"/> returns.</para>
/// </remarks>
public sealed class ProxyConnection
{
    private const int ChunkSize = 16 * 1024;

    // What a flowing (or delayed) direction may hold before its reader stops reading.
    private const int HoldLimit = 16 * ChunkSize;

    // A dripping direction holds at most this many drips.
    private const int DripsHeld = 4;

    private static readonly TimeSpan s_finDrainLimit = TimeSpan.FromSeconds(5);

    private readonly object _gate = new();
    private readonly Socket _client;
    private readonly Socket _server;
    private readonly Flow _up;
    private readonly Flow _down;
    private readonly CancellationTokenSource _cut = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Set once a cut has closed or shut the sockets: cancelling the pumps can run them to their end on the
    // cutting thread, and the run must not close the sockets its own way before the cut has.
    private readonly TaskCompletionSource _cutDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<(ProxyTrigger Trigger, ProxyFault Fault)> _byteTriggers = [];
    private bool _started;
    private bool _isCut;
    private bool _ended;
    private bool _graceful;
    private long _cutTimestamp;

    internal ProxyConnection(int id, Socket client, Socket server)
    {
        Id = id;
        _client = client;
        _server = server;
        _up = new Flow(ProxyDirection.ClientToServer, client, server);
        _down = new Flow(ProxyDirection.ServerToClient, server, client);
        AcceptedTimestamp = Stopwatch.GetTimestamp();
    }

    /// <summary>The connection's number at its proxy: 1 for the first accepted, and so on.</summary>
    public int Id { get; }

    /// <summary>When the proxy accepted it (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public long AcceptedTimestamp { get; }

    /// <summary>When a reset or FIN (a fault, or a peer's reset passed on) cut it; 0 while not cut.</summary>
    public long CutTimestamp
    {
        get
        {
            lock (_gate)
            {
                return _cutTimestamp;
            }
        }
    }

    /// <summary>The fault that cut the link (<see cref="ProxyFaultKind.Reset"/> or <see cref="ProxyFaultKind.Fin"/>); null while open, or when a peer ended it.</summary>
    public ProxyFaultKind? CutBy { get; private set; }

    /// <summary>Whether bytes can still flow: neither cut nor ended by both peers.</summary>
    public bool IsOpen
    {
        get
        {
            lock (_gate)
            {
                return !_isCut && !_ended;
            }
        }
    }

    /// <summary>Completes once both sockets are closed and the counts are final. Never faults.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Bytes read from the sender in <paramref name="direction"/> so far.</summary>
    public long GetBytesReceived(ProxyDirection direction) => Sum(direction, static f => f.Received);

    /// <summary>Bytes written to the receiver in <paramref name="direction"/> so far.</summary>
    public long GetBytesForwarded(ProxyDirection direction) => Sum(direction, static f => f.Forwarded);

    /// <summary>Bytes read in <paramref name="direction"/> and neither forwarded nor discarded yet: what the proxy holds right now.</summary>
    public long GetBytesHeld(ProxyDirection direction) => Sum(direction, static f => f.Held);

    /// <summary>Bytes the sender in <paramref name="direction"/> has sent that wait, unread, in the proxy's kernel receive buffer.</summary>
    public long GetBytesQueuedInKernel(ProxyDirection direction) => FlowsOf(direction).Sum(f => (long)QueuedInKernel(f.Source));

    /// <summary>
    /// Bytes lost in <paramref name="direction"/>: while open, those a half-open direction discarded; once
    /// <see cref="Completion"/> has completed, everything the proxy received and never forwarded, with what its
    /// kernel buffers still held when a reset cut the link (see the remarks).
    /// </summary>
    public long GetBytesLost(ProxyDirection direction)
    {
        lock (_gate)
        {
            bool final = _completion.Task.IsCompleted;
            return Sum(direction, f => (final ? f.Received - f.Forwarded : f.Discarded) + f.QueuedAtCut + f.DrainedAfterFin);
        }
    }

    /// <summary>Applies <paramref name="fault"/> now. Faults on a link already cut do nothing.</summary>
    public void Apply(ProxyFault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        switch (fault.Kind)
        {
            case ProxyFaultKind.Reset:
                Cut(ProxyFaultKind.Reset);
                break;
            case ProxyFaultKind.Fin:
                Cut(ProxyFaultKind.Fin);
                break;
            case ProxyFaultKind.HalfOpen:
                ShutOneWay(fault.Direction == ProxyDirection.ClientToServer ? _up : _down);
                break;
            default:
                foreach (Flow flow in FlowsOf(fault.Direction))
                {
                    ChangeMode(flow, fault);
                }

                break;
        }
    }

    /// <summary>Applies <paramref name="fault"/> when <paramref name="trigger"/> strikes (at once if it already has).</summary>
    public void Schedule(ProxyTrigger trigger, ProxyFault fault)
    {
        ArgumentNullException.ThrowIfNull(trigger);
        ArgumentNullException.ThrowIfNull(fault);
        if (trigger.Elapsed is { } elapsed)
        {
            _ = ApplyAfterAsync(elapsed, fault);
            return;
        }

        bool due;
        lock (_gate)
        {
            due = ForwardedLocked(trigger.Direction) >= trigger.Bytes!.Value;
            if (!due)
            {
                _byteTriggers.Add((trigger, fault));
            }
        }

        if (due)
        {
            Apply(fault);
        }
    }

    /// <summary>Starts forwarding; faults applied before this take effect from the first byte.</summary>
    internal void Start()
    {
        lock (_gate)
        {
            if (_started)
            {
                return;
            }

            _started = true;
        }

        _ = RunAsync();
    }

    private static void AbortSocket(Socket socket)
    {
        try
        {
            // Linger 0: close sends RST and discards whatever is queued either way.
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }

        socket.Dispose();
    }

    private static void ShutdownSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The peer is gone already; there is nobody to tell.
        }
    }

    private static int QueuedInKernel(Socket socket)
    {
        try
        {
            return socket.Available;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return 0;
        }
    }

    private long Sum(ProxyDirection direction, Func<Flow, long> count)
    {
        lock (_gate)
        {
            return direction switch
            {
                ProxyDirection.ClientToServer => count(_up),
                ProxyDirection.ServerToClient => count(_down),
                _ => count(_up) + count(_down),
            };
        }
    }

    private long ForwardedLocked(ProxyDirection direction) => direction switch
    {
        ProxyDirection.ClientToServer => _up.Forwarded,
        ProxyDirection.ServerToClient => _down.Forwarded,
        _ => _up.Forwarded + _down.Forwarded,
    };

    private Flow[] FlowsOf(ProxyDirection direction) => direction switch
    {
        ProxyDirection.ClientToServer => [_up],
        ProxyDirection.ServerToClient => [_down],
        _ => [_up, _down],
    };

    private static bool Counts(ProxyDirection trigger, ProxyDirection flow) => trigger == ProxyDirection.Both || trigger == flow;

    private void ChangeMode(Flow flow, ProxyFault fault)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            switch (fault.Kind)
            {
                case ProxyFaultKind.Stall:
                    flow.Stalled = true;
                    break;
                case ProxyFaultKind.Delay:
                    flow.Latency = fault.Latency;
                    break;
                case ProxyFaultKind.Drip:
                    flow.DripBytes = fault.DripBytes;
                    flow.DripInterval = fault.DripInterval;
                    break;
                default:
                    flow.Stalled = false;
                    flow.Latency = TimeSpan.Zero;
                    flow.DripBytes = 0;
                    break;
            }

            changed = flow.Changed;
            flow.Changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private void ShutOneWay(Flow flow)
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            if (_isCut || flow.Shut)
            {
                return;
            }

            flow.Shut = true;
            changed = flow.Changed;
            flow.Changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        // The receiver reads the end of the stream now; what the sender still sends goes nowhere.
        ShutdownSend(flow.Destination);
        changed.TrySetResult();
    }

    /// <summary>Ends the link: a reset (RST both ways, at once) or a FIN (both ways, then drains what keeps coming).</summary>
    private void Cut(ProxyFaultKind? by)
    {
        bool fin = by == ProxyFaultKind.Fin;
        lock (_gate)
        {
            if (_isCut || _ended)
            {
                return;
            }

            _isCut = true;
            _graceful = fin;
            _cutTimestamp = Stopwatch.GetTimestamp();
            CutBy = by;
        }

        // Cancels the pumps' pending reads first, so the kernel's count below and the readers' own counts
        // never include the same bytes.
        _cut.Cancel();
        if (fin)
        {
            ShutdownSend(_client);
            ShutdownSend(_server);
        }
        else
        {
            lock (_gate)
            {
                _up.QueuedAtCut = QueuedInKernel(_up.Source);
                _down.QueuedAtCut = QueuedInKernel(_down.Source);
            }

            AbortSocket(_client);
            AbortSocket(_server);
        }

        _cutDone.TrySetResult();
    }

    private async Task ApplyAfterAsync(TimeSpan elapsed, ProxyFault fault)
    {
        try
        {
            await WaitOrChangeAsync(elapsed, changed: null, _cut.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        Apply(fault);
    }

    private async Task RunAsync()
    {
        CancellationToken cut = _cut.Token;
        Task[] pumps = [ReadAsync(_up, cut), WriteAsync(_up, cut), ReadAsync(_down, cut), WriteAsync(_down, cut)];
        await Task.WhenAll(pumps).ConfigureAwait(false);
        bool graceful;
        bool isCut;
        lock (_gate)
        {
            graceful = _graceful;
            isCut = _isCut;
        }

        if (isCut)
        {
            await _cutDone.Task.ConfigureAwait(false);
        }

        if (graceful)
        {
            // After a FIN each peer is expected to close its side; what it still sends meanwhile is lost.
            using var limit = new CancellationTokenSource(s_finDrainLimit);
            long[] drained = await Task.WhenAll(DrainAsync(_client, limit.Token), DrainAsync(_server, limit.Token)).ConfigureAwait(false);
            lock (_gate)
            {
                _up.DrainedAfterFin = drained[0];
                _down.DrainedAfterFin = drained[1];
            }
        }

        _client.Dispose();
        _server.Dispose();
        foreach (Flow flow in new[] { _up, _down })
        {
            while (flow.Chunks.Reader.TryRead(out Chunk left))
            {
                ArrayPool<byte>.Shared.Return(left.Buffer);
            }
        }

        lock (_gate)
        {
            _ended = true;
        }

        _completion.TrySetResult();
    }

    private static async Task<long> DrainAsync(Socket socket, CancellationToken cancellationToken)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        long total = 0;
        try
        {
            while (true)
            {
                int read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return total;
                }

                total += read;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return total;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task ReadAsync(Flow flow, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await WaitForRoomAsync(flow, cancellationToken).ConfigureAwait(false);

                // Waits for data without taking it, then looks again: a direction stalled meanwhile must leave
                // the bytes in the kernel, unacknowledged.
                await flow.Source.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                int room = await WaitForRoomAsync(flow, cancellationToken).ConfigureAwait(false);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
                int read;
                try
                {
                    read = await flow.Source.ReceiveAsync(buffer.AsMemory(0, room), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    throw;
                }

                if (read == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    break;
                }

                bool shut;
                lock (_gate)
                {
                    flow.Received += read;
                    shut = flow.Shut;
                    if (shut)
                    {
                        flow.Discarded += read;
                    }
                }

                if (shut)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    continue;
                }

                flow.Chunks.Writer.TryWrite(new Chunk(buffer, read, Stopwatch.GetTimestamp()));
            }

            // The sender finished: its receiver gets a FIN once everything before it has been forwarded.
            flow.Chunks.Writer.TryComplete();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cut.
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The sender reset its side (or the link was cut under the read): pass the reset on.
            Cut(by: null);
        }
    }

    /// <summary>Waits until the direction may hold more; returns how many bytes the next read may take.</summary>
    private async Task<int> WaitForRoomAsync(Flow flow, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            Task progress;
            lock (_gate)
            {
                if (flow.Shut)
                {
                    // Discarding: read as fast as the sender sends.
                    return ChunkSize;
                }

                long limit = flow.Stalled ? 0 : flow.DripBytes > 0 ? (long)flow.DripBytes * DripsHeld : HoldLimit;
                long room = limit - flow.Held;
                if (room > 0)
                {
                    return (int)Math.Min(room, ChunkSize);
                }

                changed = flow.Changed.Task;
                progress = flow.Progress.Task;
            }

            await Task.WhenAny(changed, progress).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WriteAsync(Flow flow, CancellationToken cancellationToken)
    {
        try
        {
            while (await flow.Chunks.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (flow.Chunks.Reader.TryRead(out Chunk chunk))
                {
                    try
                    {
                        await ForwardAsync(flow, chunk, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(chunk.Buffer);
                    }
                }
            }

            bool shut;
            lock (_gate)
            {
                shut = flow.Shut;
            }

            if (!shut)
            {
                ShutdownSend(flow.Destination);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cut.
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The receiver is gone: pass the reset on to the sender.
            Cut(by: null);
        }
    }

    private async Task ForwardAsync(Flow flow, Chunk chunk, CancellationToken cancellationToken)
    {
        int offset = 0;
        while (offset < chunk.Count)
        {
            FireDueByteTriggers();
            cancellationToken.ThrowIfCancellationRequested();
            Mode mode = await WaitUntilFlowingAsync(flow, cancellationToken).ConfigureAwait(false);
            if (mode.Shut)
            {
                Discard(flow, chunk.Count - offset);
                return;
            }

            if (mode.Latency > TimeSpan.Zero)
            {
                TimeSpan remaining = mode.Latency - Stopwatch.GetElapsedTime(chunk.ReceivedTimestamp);
                if (remaining > TimeSpan.Zero)
                {
                    await WaitOrChangeAsync(remaining, mode.Changed, cancellationToken).ConfigureAwait(false);
                    continue;
                }
            }

            int count = chunk.Count - offset;
            if (mode.DripBytes > 0)
            {
                count = Math.Min(count, mode.DripBytes);
            }

            count = (int)Math.Min(count, BytesUntilNextTrigger(flow.Direction));
            try
            {
                await flow.Destination.SendAsync(chunk.Buffer.AsMemory(offset, count), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when ((ex is SocketException or ObjectDisposedException) && IsShut(flow))
            {
                Discard(flow, chunk.Count - offset);
                return;
            }

            TaskCompletionSource progress;
            lock (_gate)
            {
                flow.Forwarded += count;
                progress = flow.Progress;
                flow.Progress = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            progress.TrySetResult();
            offset += count;
            if (mode.DripBytes > 0)
            {
                FireDueByteTriggers();
                await WaitOrChangeAsync(mode.DripInterval, mode.Changed, cancellationToken).ConfigureAwait(false);
            }
        }

        FireDueByteTriggers();
    }

    private bool IsShut(Flow flow)
    {
        lock (_gate)
        {
            return flow.Shut;
        }
    }

    private void Discard(Flow flow, int count)
    {
        lock (_gate)
        {
            flow.Discarded += count;
        }
    }

    /// <summary>
    /// Waits <paramref name="wait"/> by the stopwatch (a timer may fire a little early, and the proxy's delays
    /// are lower bounds tests rely on), or until <paramref name="changed"/> completes.
    /// </summary>
    private static async Task WaitOrChangeAsync(TimeSpan wait, Task? changed, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        while (true)
        {
            TimeSpan remaining = wait - Stopwatch.GetElapsedTime(start);
            if (remaining <= TimeSpan.Zero || changed is { IsCompleted: true })
            {
                return;
            }

            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task delay = Task.Delay(remaining, stop.Token);
            await (changed is null ? delay : Task.WhenAny(delay, changed)).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private async Task<Mode> WaitUntilFlowingAsync(Flow flow, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                changed = flow.Changed.Task;
                if (!flow.Stalled || flow.Shut)
                {
                    return new Mode(flow.Shut, flow.Latency, flow.DripBytes, flow.DripInterval, changed);
                }
            }

            await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private long BytesUntilNextTrigger(ProxyDirection direction)
    {
        long until = long.MaxValue;
        lock (_gate)
        {
            foreach ((ProxyTrigger trigger, _) in _byteTriggers)
            {
                if (Counts(trigger.Direction, direction))
                {
                    until = Math.Min(until, trigger.Bytes!.Value - ForwardedLocked(trigger.Direction));
                }
            }
        }

        // A trigger counting both directions may have been passed by the other writer a moment ago.
        return Math.Max(1, until);
    }

    private void FireDueByteTriggers()
    {
        List<ProxyFault>? due = null;
        lock (_gate)
        {
            for (int i = 0; i < _byteTriggers.Count; i++)
            {
                (ProxyTrigger trigger, ProxyFault fault) = _byteTriggers[i];
                if (ForwardedLocked(trigger.Direction) >= trigger.Bytes!.Value)
                {
                    (due ??= []).Add(fault);
                    _byteTriggers.RemoveAt(i--);
                }
            }
        }

        if (due is not null)
        {
            foreach (ProxyFault fault in due)
            {
                Apply(fault);
            }
        }
    }

    private readonly record struct Chunk(byte[] Buffer, int Count, long ReceivedTimestamp);

    private readonly record struct Mode(bool Shut, TimeSpan Latency, int DripBytes, TimeSpan DripInterval, Task Changed);

    /// <summary>One direction's queue, settings and counts; every field but the sockets and the queue is guarded by the connection's lock.</summary>
    private sealed class Flow(ProxyDirection direction, Socket source, Socket destination)
    {
        public ProxyDirection Direction { get; } = direction;

        public Socket Source { get; } = source;

        public Socket Destination { get; } = destination;

        // Bounded by what the reader lets in (see WaitForRoomAsync), not by a count of chunks.
        public Channel<Chunk> Chunks { get; } = Channel.CreateUnbounded<Chunk>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

        /// <summary>Completed (and replaced) when the direction's settings change.</summary>
        public TaskCompletionSource Changed { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completed (and replaced) when the writer has forwarded bytes: the reader may have room again.</summary>
        public TaskCompletionSource Progress { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Held => Received - Forwarded - Discarded;

        public bool Stalled { get; set; }

        public bool Shut { get; set; }

        public TimeSpan Latency { get; set; }

        public int DripBytes { get; set; }

        public TimeSpan DripInterval { get; set; }

        public long Received { get; set; }

        public long Forwarded { get; set; }

        public long Discarded { get; set; }

        public long QueuedAtCut { get; set; }

        public long DrainedAfterFin { get; set; }
    }
}
