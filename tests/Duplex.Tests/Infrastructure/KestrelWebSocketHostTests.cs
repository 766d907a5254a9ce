using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Duplex.Tests.Infrastructure;

public sealed class KestrelWebSocketHostTests
{
    public static TheoryData<KestrelTransport> Transports => [KestrelTransport.Http11, KestrelTransport.Http2Cleartext, KestrelTransport.Tls];

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task KestrelWebSocketHost_Echo_ReturnsSameMessage(KestrelTransport transport)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(transport, timeout.Token);
        using var invoker = CreateInvoker(host);
        using var client = CreateClient(host);

        await client.ConnectAsync(host.GetUri("/echo"), invoker, timeout.Token);
        await client.SendTextAsync("hello ✓", timeout.Token);
        var text = await client.ReceiveMessageAsync(timeout.Token);
        var binary = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();
        await client.SendBinaryAsync(binary, timeout.Token);
        var echoed = await client.ReceiveMessageAsync(timeout.Token);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);

        Assert.Equal(WebSocketMessageType.Text, text.Type);
        Assert.Equal("hello ✓", text.Text);
        Assert.Equal(WebSocketMessageType.Binary, echoed.Type);
        Assert.Equal(binary, echoed.Payload);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        Assert.Equal("done", client.CloseStatusDescription);
        Assert.Equal(transport == KestrelTransport.Http2Cleartext ? "HTTP/2" : "HTTP/1.1", Assert.Single(host.Requests).Protocol);
    }

    [Fact]
    public async Task KestrelWebSocketHost_Headers_SendsRequestHeadersAsJsonAndRecordsThem()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(cancellationToken: timeout.Token);
        using var client = new ClientWebSocket();
        client.Options.SetRequestHeader("X-Tenant-Id", "tenant-42");

        await client.ConnectAsync(host.GetUri("/headers"), timeout.Token);
        var message = await client.ReceiveMessageAsync(timeout.Token);
        var headers = JsonSerializer.Deserialize<Dictionary<string, string>>(message.Text)!;

        Assert.Equal("tenant-42", headers["x-tenant-id"]);
        var recorded = Assert.Single(host.Requests);
        Assert.Equal("/headers", recorded.Path);
        Assert.Equal("tenant-42", recorded.Headers["X-TENANT-ID"]);
    }

    [Fact]
    public async Task KestrelWebSocketHost_Close_ClosesWithCodeAndReason()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(cancellationToken: timeout.Token);
        using var client = new ClientWebSocket();

        await client.ConnectAsync(host.GetUri("/close/4001"), timeout.Token);
        var message = await client.ReceiveMessageAsync(timeout.Token);

        Assert.Equal(WebSocketMessageType.Close, message.Type);
        Assert.Equal((WebSocketCloseStatus)4001, message.CloseStatus);
        Assert.Equal("bye", message.CloseStatusDescription);
    }

    [Fact]
    public async Task KestrelWebSocketHost_Reject_AnswersStatusHeaderAndBody()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(cancellationToken: timeout.Token);
        using var client = new ClientWebSocket();
        client.Options.CollectHttpResponseDetails = true;

        await Assert.ThrowsAsync<WebSocketException>(() => client.ConnectAsync(host.GetUri("/reject/403"), timeout.Token));

        Assert.Equal(HttpStatusCode.Forbidden, client.HttpStatusCode);
        Assert.Equal("test", Assert.Single(client.HttpResponseHeaders![KestrelWebSocketHost.RejectReasonHeader]));

        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(host.HttpBaseUri, "/reject/401"), timeout.Token);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(KestrelWebSocketHost.RejectBody, await response.Content.ReadAsStringAsync(timeout.Token));
    }

    [Fact]
    public async Task KestrelWebSocketHost_MappedEndpoint_RunsBeforeBuiltIns()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = new KestrelWebSocketHost();
        host.Map("/custom", async context =>
        {
            using var webSocket = await context.WebSockets.AcceptWebSocketAsync("chat.v1");
            await webSocket.SendTextAsync("custom", context.RequestAborted);
            await webSocket.CloseAsync(WebSocketCloseStatus.NormalClosure, "", context.RequestAborted);
        });
        await host.StartAsync(cancellationToken: timeout.Token);
        using var client = new ClientWebSocket();
        client.Options.AddSubProtocol("chat.v1");

        await client.ConnectAsync(host.GetUri("/custom"), timeout.Token);
        var message = await client.ReceiveMessageAsync(timeout.Token);

        Assert.Equal("chat.v1", client.SubProtocol);
        Assert.Equal("custom", message.Text);
    }

    [Fact]
    public async Task KestrelWebSocketHost_LargeMessage_EchoedWhole()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var host = await KestrelWebSocketHost.StartNewAsync(cancellationToken: timeout.Token);
        using var client = new ClientWebSocket();
        var payload = new byte[KestrelWebSocketHost.MaxMessageBytes];
        Random.Shared.NextBytes(payload);

        await client.ConnectAsync(host.GetUri("/echo"), timeout.Token);
        var receive = client.ReceiveMessageAsync(timeout.Token);
        await client.SendBinaryAsync(payload, timeout.Token);
        var message = await receive;

        Assert.True(payload.AsSpan().SequenceEqual(message.Payload));
    }

    [Fact]
    public void LoopbackCertificate_Create_ChainsToItselfAsCustomRoot()
    {
        using var certificate = LoopbackCertificate.Create();
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(certificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;

        Assert.True(certificate.HasPrivateKey);
        Assert.True(chain.Build(certificate), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));
    }

    private static ClientWebSocket CreateClient(KestrelWebSocketHost host)
    {
        var client = new ClientWebSocket();
        if (host.Transport == KestrelTransport.Http2Cleartext)
        {
            client.Options.HttpVersion = HttpVersion.Version20;
            client.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        }

        return client;
    }

    private static HttpMessageInvoker CreateInvoker(KestrelWebSocketHost host)
    {
        var handler = new SocketsHttpHandler();
        if (host.Certificate is { } certificate)
        {
            var thumbprint = certificate.Thumbprint;
            handler.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, _) =>
                presented is not null && string.Equals(presented.GetCertHashString(), thumbprint, StringComparison.OrdinalIgnoreCase);
        }

        return new HttpMessageInvoker(handler);
    }
}
