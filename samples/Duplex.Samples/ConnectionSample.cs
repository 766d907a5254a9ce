using System.Net.WebSockets;
using System.Text;
using Duplex.Connection;

namespace Duplex.Samples;

/// <summary>The connection layer on its own: headers, text and binary, a Ping with its RTT, the closing handshake.</summary>
internal static class ConnectionSample
{
    public static async Task RunAsync(SampleServer server, CancellationToken cancellationToken)
    {
        var options = new WebSocketConnectionOptions();
        options.Handshake.Headers["X-Client-Name"] = "connection-sample";
        options.Handshake.Headers["Authorization"] = "Bearer never-logged";

        await using var connection = new WebSocketConnection(options);
        await connection.ConnectAsync(server.Ws("/echo"), cancellationToken);
        Console.WriteLine($"  connected: HTTP/{connection.HandshakeResponse!.HttpVersion}, status {connection.HandshakeResponse.StatusCode}");
        Console.WriteLine($"  server says: {(await connection.ReceiveMessageAsync(cancellationToken)).Text}");

        await connection.SendTextAsync("Grüße aus Duplex 👋", cancellationToken);
        Console.WriteLine($"  text echo: {(await connection.ReceiveMessageAsync(cancellationToken)).Text}");

        byte[] blob = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();
        await connection.SendBinaryAsync(blob, cancellationToken);
        WebSocketMessage echo = await connection.ReceiveMessageAsync(cancellationToken);
        Console.WriteLine($"  binary echo: {echo.Data.Length} bytes, intact: {echo.Data.Span.SequenceEqual(blob)}");

        TimeSpan rtt = await connection.PingAsync(Encoding.UTF8.GetBytes("are you there?"), cancellationToken);
        Console.WriteLine($"  ping round trip: {rtt.TotalMilliseconds:0.000} ms");

        await connection.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", cancellationToken);
        Console.WriteLine($"  closed: server answered {(int?)connection.RemoteCloseStatus} '{connection.RemoteCloseStatusDescription}'");
    }
}
