using System.Net.WebSockets;
using System.Text;
using Duplex.Connection;
using Duplex.Samples.Quickstart;

// Starts a local echo server, then walks through Duplex's connection API against it:
// custom headers, text and binary messages, a Ping with its round-trip time, and the closing handshake.
await using EmbeddedEchoServer server = await EmbeddedEchoServer.StartAsync();
Console.WriteLine($"embedded server listening at {server.Uri}");

var options = new WebSocketConnectionOptions();
options.Handshake.Headers["X-Client-Name"] = "quickstart";
options.Handshake.Headers["Authorization"] = "Bearer example-token";

using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
await using var connection = new WebSocketConnection(options);
await connection.ConnectAsync(server.Uri, timeout.Token);
Console.WriteLine($"connected: HTTP {connection.HandshakeResponse!.HttpVersion}, status {connection.HandshakeResponse.StatusCode}, state {connection.State}");

WebSocketMessage greeting = await connection.ReceiveMessageAsync(timeout.Token);
Console.WriteLine($"server says: {greeting.Text}");

await connection.SendTextAsync("Grüße aus Duplex 👋", timeout.Token);
WebSocketMessage echo = await connection.ReceiveMessageAsync(timeout.Token);
Console.WriteLine($"text echo: {echo.Text}");

byte[] blob = Enumerable.Range(0, 100_000).Select(i => (byte)i).ToArray();
await connection.SendBinaryAsync(blob, timeout.Token);
WebSocketMessage binaryEcho = await connection.ReceiveMessageAsync(timeout.Token);
Console.WriteLine($"binary echo: {binaryEcho.Data.Length} bytes, intact: {binaryEcho.Data.Span.SequenceEqual(blob)}");

TimeSpan rtt = await connection.PingAsync(Encoding.UTF8.GetBytes("ping"), timeout.Token);
Console.WriteLine($"ping round trip: {rtt.TotalMilliseconds:0.000} ms");

await connection.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
Console.WriteLine($"closed: state {connection.State}, server answered {(int?)connection.RemoteCloseStatus} '{connection.RemoteCloseStatusDescription}'");
