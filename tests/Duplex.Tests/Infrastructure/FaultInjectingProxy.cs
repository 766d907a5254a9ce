using System.Net;
using System.Net.Sockets;

namespace Duplex.Tests.Infrastructure;

/// <summary>
/// A TCP proxy on 127.0.0.1 (an OS-chosen port) that forwards every connection it accepts to a target and
/// breaks links on command: reset, FIN, stall, delay, drip, half-open (see <see cref="ProxyFault"/>).
/// </summary>
/// <remarks>
/// <para>Faults go to the newest open connection (<see cref="ApplyToCurrent"/>), to every open one
/// (<see cref="ApplyToAll"/>), or to the next one accepted (<see cref="ApplyToNext"/>, optionally with a
/// trigger: after some time, or after some bytes). <see cref="ConnectionAccepted"/> sees every connection
/// before a byte flows, for schedules of its own. Each <see cref="ProxyConnection"/> counts the bytes it
/// forwarded and lost each way.</para>
/// <para>Thread safety: every member may be called from any thread. A target that refuses the proxy's
/// connection makes the proxy reset the client's.</para>
/// </remarks>
public sealed class FaultInjectingProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly EndPoint _target;
    private readonly int? _socketBufferSize;
    private readonly object _gate = new();
    private readonly List<ProxyConnection> _connections = [];
    private readonly Queue<(ProxyTrigger? Trigger, ProxyFault Fault)> _forNext = new();
    private readonly List<(int Ordinal, TaskCompletionSource<ProxyConnection> Waiter)> _waiters = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _acceptLoop;
    private int _disposed;

    /// <summary>Starts listening at once and forwards to <paramref name="target"/>.</summary>
    /// <param name="target">Where every accepted connection is forwarded.</param>
    /// <param name="socketBufferSize">
    /// The kernel send and receive buffer size of the proxy's own sockets; null for the system's (on loopback
    /// these grow to megabytes, so a stalled link would take that much before the sender's writes block).
    /// </param>
    public FaultInjectingProxy(EndPoint target, int? socketBufferSize = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        _target = target;
        _socketBufferSize = socketBufferSize;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (socketBufferSize is int size)
        {
            // Set before listening, so that accepted sockets inherit it and advertise a window that fits.
            _listener.ReceiveBufferSize = size;
            _listener.SendBufferSize = size;
        }

        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(128);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        Uri = new Uri($"ws://127.0.0.1:{Port}/");
        _acceptLoop = AcceptLoopAsync(_stopping.Token);
    }

    /// <summary>Starts listening at once and forwards to <paramref name="targetPort"/> on 127.0.0.1.</summary>
    public FaultInjectingProxy(int targetPort, int? socketBufferSize = null)
        : this(new IPEndPoint(IPAddress.Loopback, targetPort), socketBufferSize)
    {
    }

    /// <summary>The port the proxy listens on.</summary>
    public int Port { get; }

    /// <summary><c>ws://127.0.0.1:{port}/</c>.</summary>
    public Uri Uri { get; }

    /// <summary>
    /// Called for every accepted connection, after the faults queued by <see cref="ApplyToNext"/> are in
    /// place and before any byte is forwarded; on the proxy's accept loop, so keep it short (and it must not throw).
    /// </summary>
    public Action<ProxyConnection>? ConnectionAccepted { get; set; }

    /// <summary>Every connection accepted so far, oldest first.</summary>
    public IReadOnlyList<ProxyConnection> Connections
    {
        get
        {
            lock (_gate)
            {
                return [.. _connections];
            }
        }
    }

    /// <summary>The newest connection that is still open, or null.</summary>
    public ProxyConnection? Current
    {
        get
        {
            lock (_gate)
            {
                return _connections.LastOrDefault(c => c.IsOpen);
            }
        }
    }

    /// <summary>Builds the address of <paramref name="pathAndQuery"/> through the proxy.</summary>
    public Uri GetUri(string pathAndQuery) => new(Uri, pathAndQuery);

    /// <summary>Applies <paramref name="fault"/> to the newest open connection; returns it, or null if none is open.</summary>
    public ProxyConnection? ApplyToCurrent(ProxyFault fault)
    {
        ProxyConnection? current = Current;
        current?.Apply(fault);
        return current;
    }

    /// <summary>Applies <paramref name="fault"/> to every open connection.</summary>
    public void ApplyToAll(ProxyFault fault)
    {
        foreach (ProxyConnection connection in Connections)
        {
            if (connection.IsOpen)
            {
                connection.Apply(fault);
            }
        }
    }

    /// <summary>
    /// Applies <paramref name="fault"/> to the next connection accepted: before its first byte, or when
    /// <paramref name="trigger"/> strikes (time counted from the accept). Several calls queue up for the same
    /// next connection.
    /// </summary>
    public void ApplyToNext(ProxyFault fault, ProxyTrigger? trigger = null)
    {
        ArgumentNullException.ThrowIfNull(fault);
        lock (_gate)
        {
            _forNext.Enqueue((trigger, fault));
        }
    }

    /// <summary>Completes with the <paramref name="ordinal"/>-th connection (1-based) once it has been accepted.</summary>
    public Task<ProxyConnection> WaitForConnectionAsync(int ordinal, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ordinal, 1);
        lock (_gate)
        {
            if (_connections.Count >= ordinal)
            {
                return Task.FromResult(_connections[ordinal - 1]);
            }

            var waiter = new TaskCompletionSource<ProxyConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((ordinal, waiter));
            return waiter.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Bytes forwarded in <paramref name="direction"/>, over every connection so far.</summary>
    public long GetBytesForwarded(ProxyDirection direction) => Connections.Sum(c => c.GetBytesForwarded(direction));

    /// <summary>Bytes lost in <paramref name="direction"/>, over every connection so far (final for ended ones; see <see cref="ProxyConnection.GetBytesLost"/>).</summary>
    public long GetBytesLost(ProxyDirection direction) => Connections.Sum(c => c.GetBytesLost(direction));

    /// <summary>Stops accepting, resets every open link and waits (bounded) for each to finish. Never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _acceptLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped.
        }

        ApplyToAll(ProxyFault.Reset);
        try
        {
            await Task.WhenAll(Connections.Select(c => c.Completion)).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // A pump that does not end is left behind; its sockets are closed.
        }

        lock (_gate)
        {
            foreach ((_, TaskCompletionSource<ProxyConnection> waiter) in _waiters)
            {
                waiter.TrySetCanceled();
            }

            _waiters.Clear();
        }

        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // One failed accept (the client gave up before it was accepted) does not stop the proxy.
                continue;
            }

            client.NoDelay = true;
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            if (_socketBufferSize is int size)
            {
                server.ReceiveBufferSize = size;
                server.SendBufferSize = size;
            }

            try
            {
                await server.ConnectAsync(_target, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException)
            {
                server.Dispose();
                client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                continue;
            }

            Register(client, server);
        }
    }

    private void Register(Socket client, Socket server)
    {
        ProxyConnection connection;
        List<(ProxyTrigger? Trigger, ProxyFault Fault)> queued;
        lock (_gate)
        {
            connection = new ProxyConnection(_connections.Count + 1, client, server);
            _connections.Add(connection);
            queued = [.. _forNext];
            _forNext.Clear();
        }

        foreach ((ProxyTrigger? trigger, ProxyFault fault) in queued)
        {
            if (trigger is null)
            {
                connection.Apply(fault);
            }
            else
            {
                connection.Schedule(trigger, fault);
            }
        }

        ConnectionAccepted?.Invoke(connection);
        connection.Start();

        List<(TaskCompletionSource<ProxyConnection> Waiter, ProxyConnection Connection)> ready = [];
        lock (_gate)
        {
            for (int i = 0; i < _waiters.Count; i++)
            {
                if (_waiters[i].Ordinal <= _connections.Count)
                {
                    ready.Add((_waiters[i].Waiter, _connections[_waiters[i].Ordinal - 1]));
                    _waiters.RemoveAt(i--);
                }
            }
        }

        foreach ((TaskCompletionSource<ProxyConnection> waiter, ProxyConnection accepted) in ready)
        {
            waiter.TrySetResult(accepted);
        }
    }
}
