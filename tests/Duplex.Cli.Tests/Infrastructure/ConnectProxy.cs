using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Duplex.Cli.Tests.Infrastructure;

/// <summary>
/// A minimal HTTP proxy on 127.0.0.1 that answers <c>CONNECT host:port</c> with a tunnel to that
/// target and refuses anything else; it records the targets it tunnelled to.
/// </summary>
public sealed class ConnectProxy : LoopbackTcpServer
{
    private readonly ConcurrentQueue<string> _targets = new();

    public ConnectProxy() => Url = $"http://127.0.0.1:{Port}";

    public string Url { get; }

    /// <summary>The <c>host:port</c> of every tunnel opened.</summary>
    public IReadOnlyCollection<string> Targets => _targets;

    protected override async Task ServeAsync(TcpClient client, NetworkStream stream)
    {
        string head = await ReadHeadAsync(stream);
        string[] requestLine = head.Split("\r\n")[0].Split(' ');
        if (requestLine is not ["CONNECT", var target, _] || target.LastIndexOf(':') is var colon && colon <= 0)
        {
            await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), Stopping);
            return;
        }

        using var upstream = new TcpClient();
        await upstream.ConnectAsync(target[..colon], int.Parse(target[(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), Stopping);
        _targets.Enqueue(target);
        await stream.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray(), Stopping);
        NetworkStream tunnel = upstream.GetStream();
        Task up = stream.CopyToAsync(tunnel, Stopping).ContinueWith(_ => upstream.Client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
        Task down = tunnel.CopyToAsync(stream, Stopping).ContinueWith(_ => client.Client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
        await Task.WhenAll(up, down);
    }
}
