using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Duplex.Tests.Client;

namespace Duplex.Tests.Infrastructure;

/// <summary>Each fault the proxy injects, observed from both ends of a real loopback link.</summary>
public sealed class FaultInjectingProxyTests : IAsyncLifetime
{
    private readonly LoopbackListener _target = new();
    private readonly FaultInjectingProxy _proxy;
    private readonly CancellationTokenSource _deadline = TestTimeouts.CreateSource(TimeSpan.FromSeconds(30));
    private readonly List<Socket> _sockets = [];

    public FaultInjectingProxyTests()
    {
        _proxy = new FaultInjectingProxy(_target.Port);
    }

    private CancellationToken Token => _deadline.Token;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }

        await _proxy.DisposeAsync();
        _target.Dispose();
        _deadline.Dispose();
    }

    [Fact]
    public async Task Forwarding_BothWays_CountsBytesAndEndsWhenBothPeersClose()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        await client.SendAsync(Pattern(1000), SocketFlags.None, Token);
        Assert.Equal(Pattern(1000), await ReadExactlyAsync(server, 1000));
        await server.SendAsync(Pattern(500), SocketFlags.None, Token);
        Assert.Equal(Pattern(500), await ReadExactlyAsync(client, 500));
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await ReadAsync(server));
        server.Shutdown(SocketShutdown.Send);
        Assert.Equal(0, await ReadAsync(client));

        await link.Completion.WaitAsync(Token);
        Assert.Null(link.CutBy);
        Assert.False(link.IsOpen);
        Assert.Equal(1000, link.GetBytesForwarded(ProxyDirection.ClientToServer));
        Assert.Equal(500, link.GetBytesForwarded(ProxyDirection.ServerToClient));
        Assert.Equal(1500, _proxy.GetBytesForwarded(ProxyDirection.Both));
        Assert.Equal(0, link.GetBytesLost(ProxyDirection.Both));
    }

    [Fact]
    public async Task Reset_BothPeersSeeConnectionReset()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        Assert.Same(link, _proxy.ApplyToCurrent(ProxyFault.Reset));

        Assert.Equal(SocketError.ConnectionReset, (await Assert.ThrowsAsync<SocketException>(() => ReadAsync(client))).SocketErrorCode);
        Assert.Equal(SocketError.ConnectionReset, (await Assert.ThrowsAsync<SocketException>(() => ReadAsync(server))).SocketErrorCode);
        await link.Completion.WaitAsync(Token);
        Assert.Equal(ProxyFaultKind.Reset, link.CutBy);
        Assert.NotEqual(0, link.CutTimestamp);
    }

    [Fact]
    public async Task Fin_BothPeersReadTheEndOfTheStream()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        link.Apply(ProxyFault.Fin);

        Assert.Equal(0, await ReadAsync(client));
        Assert.Equal(0, await ReadAsync(server));
        Assert.False(link.IsOpen);
        client.Shutdown(SocketShutdown.Send);
        server.Shutdown(SocketShutdown.Send);
        await link.Completion.WaitAsync(Token);
        Assert.Equal(ProxyFaultKind.Fin, link.CutBy);
    }

    [Fact]
    public async Task Stall_OneDirection_LeavesItsBytesUnreadUntilHealed_TheOtherDirectionFlows()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        link.Apply(ProxyFault.Stall(ProxyDirection.ClientToServer));
        await client.SendAsync(Pattern(100), SocketFlags.None, Token);
        await ClientTestKit.WaitUntilAsync(() => link.GetBytesQueuedInKernel(ProxyDirection.ClientToServer) == 100, "the client's bytes wait in the proxy's socket");
        await server.SendAsync("x"u8.ToArray(), SocketFlags.None, Token);
        Assert.Equal("x"u8.ToArray(), await ReadExactlyAsync(client, 1));

        // A stalled direction reads nothing, as a dead link acknowledges nothing: nothing is on its way to the server.
        Assert.Equal(0, link.GetBytesReceived(ProxyDirection.ClientToServer));
        Assert.Equal(0, link.GetBytesForwarded(ProxyDirection.ClientToServer));
        Assert.Equal(0, server.Available);

        link.Apply(ProxyFault.Heal());
        Assert.Equal(Pattern(100), await ReadExactlyAsync(server, 100));
    }

    [Fact]
    public async Task Delay_HoldsEveryByteForTheLatency()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();
        TimeSpan latency = TimeSpan.FromMilliseconds(300);

        link.Apply(ProxyFault.Delay(latency, ProxyDirection.ClientToServer));
        long sent = Stopwatch.GetTimestamp();
        await client.SendAsync(Pattern(10), SocketFlags.None, Token);
        Assert.Equal(Pattern(10), await ReadExactlyAsync(server, 10));

        // The proxy forwards nothing before its latency has passed, so this lower bound always holds.
        Assert.True(Stopwatch.GetElapsedTime(sent) >= latency, $"arrived after {Stopwatch.GetElapsedTime(sent)}");
    }

    [Fact]
    public async Task Drip_ForwardsAFewBytesPerInterval()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        link.Apply(ProxyFault.Drip(64, TimeSpan.FromMilliseconds(50), ProxyDirection.ClientToServer));
        long sent = Stopwatch.GetTimestamp();
        await client.SendAsync(Pattern(640), SocketFlags.None, Token);
        Assert.Equal(Pattern(640), await ReadExactlyAsync(server, 640));

        // Ten writes of 64 bytes with a pause after each: at least nine pauses before the last byte.
        Assert.True(Stopwatch.GetElapsedTime(sent) >= TimeSpan.FromMilliseconds(9 * 50), $"arrived after {Stopwatch.GetElapsedTime(sent)}");
        await ClientTestKit.WaitUntilAsync(() => link.GetBytesForwarded(ProxyDirection.ClientToServer) == 640, "the proxy counts what it forwarded");
    }

    [Fact]
    public async Task Drip_HoldsOnlyAFewDrips_TheRestWaitsUnreadInTheKernel()
    {
        (Socket client, _, ProxyConnection link) = await ConnectAsync();

        link.Apply(ProxyFault.Drip(64, TimeSpan.FromMilliseconds(50), ProxyDirection.ClientToServer));
        await client.SendAsync(Pattern(10_000), SocketFlags.None, Token);
        await ClientTestKit.WaitUntilAsync(() => link.GetBytesForwarded(ProxyDirection.ClientToServer) >= 64, "the first drip went through");

        Assert.InRange(link.GetBytesHeld(ProxyDirection.ClientToServer), 0, 4 * 64);
        Assert.True(link.GetBytesQueuedInKernel(ProxyDirection.ClientToServer) > 0);
    }

    [Fact]
    public async Task HalfOpen_ServerToClient_ClientReadsFin_ItsOwnBytesStillFlow()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        link.Apply(ProxyFault.HalfOpen(ProxyDirection.ServerToClient));

        Assert.Equal(0, await ReadAsync(client));
        await client.SendAsync(Pattern(20), SocketFlags.None, Token);
        Assert.Equal(Pattern(20), await ReadExactlyAsync(server, 20));
        Assert.True(link.IsOpen);
    }

    [Fact]
    public async Task HalfOpen_ClientToServer_ServerReadsFin_ClientBytesAreDiscardedAndCountedLost()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        link.Apply(ProxyFault.HalfOpen(ProxyDirection.ClientToServer));

        Assert.Equal(0, await ReadAsync(server));
        await client.SendAsync(Pattern(10), SocketFlags.None, Token);
        await ClientTestKit.WaitUntilAsync(() => link.GetBytesReceived(ProxyDirection.ClientToServer) == 10, "the proxy has read the client's bytes");
        Assert.Equal(10, link.GetBytesLost(ProxyDirection.ClientToServer));
        await server.SendAsync("y"u8.ToArray(), SocketFlags.None, Token);
        Assert.Equal("y"u8.ToArray(), await ReadExactlyAsync(client, 1));
    }

    [Fact]
    public async Task ScheduledAfterBytes_ForwardsExactlyThatManyThenResets_TheRestIsLostInFlight()
    {
        _proxy.ApplyToNext(ProxyFault.Reset, ProxyTrigger.AfterBytes(100, ProxyDirection.ClientToServer));
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        await client.SendAsync(Pattern(300), SocketFlags.None, Token);

        await link.Completion.WaitAsync(Token);
        Assert.Equal(ProxyFaultKind.Reset, link.CutBy);
        Assert.Equal(100, link.GetBytesForwarded(ProxyDirection.ClientToServer));
        Assert.Equal(200, link.GetBytesLost(ProxyDirection.ClientToServer));
        Assert.Equal(300, link.GetBytesForwarded(ProxyDirection.ClientToServer) + link.GetBytesLost(ProxyDirection.ClientToServer));
        Assert.True(await ReadUntilEndAsync(server) <= 100);
    }

    [Fact]
    public async Task ScheduledAfterTime_AppliesTheFaultThen()
    {
        TimeSpan after = TimeSpan.FromMilliseconds(200);
        _proxy.ApplyToNext(ProxyFault.Fin, ProxyTrigger.After(after));
        long connected = Stopwatch.GetTimestamp();
        (Socket client, _, ProxyConnection link) = await ConnectAsync();

        Assert.Equal(0, await ReadAsync(client));

        Assert.True(Stopwatch.GetElapsedTime(connected) >= after, $"cut after {Stopwatch.GetElapsedTime(connected)}");
        Assert.Equal(ProxyFaultKind.Fin, link.CutBy);
    }

    [Fact]
    public async Task ApplyToNext_ResetsTheNextConnectionBeforeAnyByte_LeavesTheCurrentOne()
    {
        (Socket first, Socket firstServer, ProxyConnection firstLink) = await ConnectAsync();

        _proxy.ApplyToNext(ProxyFault.Reset);
        var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _sockets.Add(second);

        // The reset can arrive before the connect has completed on this side, or after.
        SocketException reset = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            await second.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _proxy.Port), Token);
            await ReadAsync(second);
        });
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        ProxyConnection secondLink = await _proxy.WaitForConnectionAsync(2, Token);
        Assert.Equal(ProxyFaultKind.Reset, secondLink.CutBy);
        Assert.Equal(0, secondLink.GetBytesForwarded(ProxyDirection.Both));
        await first.SendAsync(Pattern(5), SocketFlags.None, Token);
        Assert.Equal(Pattern(5), await ReadExactlyAsync(firstServer, 5));
        Assert.True(firstLink.IsOpen);
        Assert.Equal([firstLink, secondLink], _proxy.Connections);
    }

    [Fact]
    public async Task ApplyToAll_CutsEveryOpenConnection()
    {
        (Socket first, _, _) = await ConnectAsync();
        (Socket second, _, _) = await ConnectAsync();

        _proxy.ApplyToAll(ProxyFault.Fin);

        Assert.Equal(0, await ReadAsync(first));
        Assert.Equal(0, await ReadAsync(second));
        Assert.Null(_proxy.Current);
    }

    [Fact]
    public async Task Reset_WhileStalled_CountsWhatTheLinkHeldAsLost()
    {
        (Socket client, _, ProxyConnection link) = await ConnectAsync();
        link.Apply(ProxyFault.Stall());
        await client.SendAsync(Pattern(50_000), SocketFlags.None, Token);
        await ClientTestKit.WaitUntilAsync(() => link.GetBytesQueuedInKernel(ProxyDirection.ClientToServer) == 50_000, "all the bytes wait in the proxy's socket");

        link.Apply(ProxyFault.Reset);

        await link.Completion.WaitAsync(Token);
        Assert.Equal(0, link.GetBytesForwarded(ProxyDirection.ClientToServer));
        Assert.Equal(50_000, link.GetBytesLost(ProxyDirection.ClientToServer));
        Assert.Equal(50_000, _proxy.GetBytesLost(ProxyDirection.Both));
    }

    [Fact]
    public async Task PeerReset_IsPassedOnToTheOtherPeer()
    {
        (Socket client, Socket server, ProxyConnection link) = await ConnectAsync();

        client.LingerState = new LingerOption(true, 0);
        client.Dispose();

        Assert.Equal(SocketError.ConnectionReset, (await Assert.ThrowsAsync<SocketException>(() => ReadAsync(server))).SocketErrorCode);
        await link.Completion.WaitAsync(Token);
        Assert.Null(link.CutBy);
    }

    private static byte[] Pattern(int length) => Enumerable.Range(0, length).Select(i => (byte)(i * 31 + 7)).ToArray();

    /// <summary>Connects a client through the proxy and accepts the server side; returns both and the proxy's link.</summary>
    private async Task<(Socket Client, Socket Server, ProxyConnection Link)> ConnectAsync()
    {
        int ordinal = _proxy.Connections.Count + 1;
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _sockets.Add(client);
        Task<TcpClient> accept = _target.AcceptAsync(Token);
        await client.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, _proxy.Port), Token);
        ProxyConnection link = await _proxy.WaitForConnectionAsync(ordinal, Token);
        Socket server = (await accept).Client;
        _sockets.Add(server);
        return (client, server, link);
    }

    private async Task<int> ReadAsync(Socket socket)
    {
        byte[] buffer = new byte[4096];
        return await socket.ReceiveAsync(buffer, SocketFlags.None, Token);
    }

    private async Task<byte[]> ReadExactlyAsync(Socket socket, int count)
    {
        byte[] buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, Token);
            if (n == 0)
            {
                throw new EndOfStreamException($"The stream ended after {read} of {count} bytes: {Encoding.ASCII.GetString(buffer, 0, read)}");
            }

            read += n;
        }

        return buffer;
    }

    /// <summary>Reads until the end of the stream or a reset; returns how many bytes arrived.</summary>
    private async Task<int> ReadUntilEndAsync(Socket socket)
    {
        byte[] buffer = new byte[4096];
        int total = 0;
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, Token);
                if (n == 0)
                {
                    return total;
                }

                total += n;
            }
        }
        catch (SocketException)
        {
            return total;
        }
    }
}
