using System.Buffers.Binary;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Duplex.Connection;
using Duplex.Handshake;
using Duplex.Handshake.Transports;
using Duplex.Tests.Infrastructure;

namespace Duplex.Tests.Interop;

/// <summary>
/// The scenarios every interop server must pass with Duplex's <see cref="WebSocketConnection"/> as the client: one
/// derived class per server supplies the addresses, the handshake settings and what the server negotiates.
/// </summary>
/// <remarks>
/// Every wait is bounded by <see cref="TestTimeouts"/>; keepalive is off so that nothing but the scenario's own frames
/// is on the wire, and the close timeout is short so a server that does not finish the closing handshake fails fast.
/// </remarks>
public abstract class InteropTests
{
    /// <summary>The subprotocols the client offers, most preferred first.</summary>
    protected static readonly string[] OfferedSubProtocols = ["duplex.v2", "duplex.v1"];

    private const int MaxMessageSize = 32 * 1024 * 1024;

    /// <summary>Text with two-, three- and four-byte UTF-8 sequences (and a combining mark).</summary>
    private const string MultibyteText = "grüße, ça va? — Ελληνικά — 日本語のテキスト — 😀🎉👍🏽 — e\u0301";

    public static TheoryData<int> TextSizes => [0, 1, 125, 126, 65535, 65536, 1024 * 1024];

    public static TheoryData<int> BinarySizes => [0, 1, 125, 126, 65535, 65536, 1024 * 1024, 16 * 1024 * 1024];

    /// <summary>The HTTP version the handshake is expected to run over.</summary>
    protected virtual Version ExpectedHttpVersion => HttpVersion.Version11;

    /// <summary>
    /// The subprotocol the server at <see cref="SubProtocolUri"/> picks from <see cref="OfferedSubProtocols"/>, or
    /// <see langword="null"/> when it is not configured for any and ignores the offer.
    /// </summary>
    protected abstract string? ExpectedSubProtocol { get; }

    /// <summary>The endpoint that echoes every message with its type and echoes the close code and reason.</summary>
    protected abstract Uri EchoUri { get; }

    /// <summary>The endpoint that first sends a JSON object of the request headers (lower-cased names), then echoes.</summary>
    protected abstract Uri HeadersUri { get; }

    /// <summary>An echo endpoint whose server negotiates subprotocols (see <see cref="ExpectedSubProtocol"/>).</summary>
    protected abstract Uri SubProtocolUri { get; }

    /// <summary>The close reason the server sends from <see cref="GetServerCloseUri"/>.</summary>
    protected virtual string ServerCloseReason => "bye";

    /// <summary>
    /// Whether the server echoes every message it received before it answers our Close. Python
    /// websockets answers the Close at once and drops echoes its application had not sent yet.
    /// </summary>
    protected virtual bool EchoesBeforeAnsweringClose => true;

    /// <summary>The endpoint that closes with <paramref name="code"/> and <see cref="ServerCloseReason"/> right after the handshake.</summary>
    protected abstract Uri GetServerCloseUri(int code);

    /// <summary>Adds what this server needs to the handshake (HTTP version, trusted certificate…).</summary>
    protected virtual void ConfigureHandshake(WebSocketHandshakeOptions handshake)
    {
    }

    /// <summary>Changes how every connection of the class runs (e.g. on a dedicated receive thread), before a test's own settings.</summary>
    protected virtual void ConfigureConnection(WebSocketConnectionOptions options)
    {
    }

    [Fact]
    public async Task Connect_Echo_OpensWithExpectedHandshakeResponse()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);

        Assert.Equal(WebSocketConnectionState.Open, connection.State);
        WebSocketHandshakeResponse response = Assert.IsType<WebSocketHandshakeResponse>(connection.HandshakeResponse);
        Assert.Equal(ExpectedHttpVersion, response.HttpVersion);
        Assert.Equal(ExpectedHttpVersion == HttpVersion.Version20 ? 200 : 101, response.StatusCode);
        Assert.Null(response.SubProtocol);
        Assert.Null(response.Extensions);
    }

    [Fact]
    public void Connect_ByDefault_UsesTheSocketTransportForHttp11_AndSocketsHttpHandlerForHttp2()
    {
        var handshake = new WebSocketHandshakeOptions();
        ConfigureHandshake(handshake);
        IWebSocketTransport expected = ExpectedHttpVersion == HttpVersion.Version20
            ? HttpWebSocketTransport.Default
            : WebSocketTransportSelector.Default;

        Assert.Same(expected, WebSocketTransportSelector.Choose(EchoUri, handshake));
    }

    [Fact]
    public async Task Abort_WhileIdle_EndsTheReceiveLoopAndAPendingReceive()
    {
        // Whatever the stream (socket, TLS, HTTP/2, pipe), teardown must end the read the idle receive loop
        // has pending — with or without a cancellation token on it — and the application's pending receive.
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);
        await connection.SendTextAsync("warm", timeout.Token);
        Assert.Equal("warm", (await connection.ReceiveMessageAsync(timeout.Token)).Text);
        Task<WebSocketMessage> pending = connection.ReceiveMessageAsync(timeout.Token).AsTask();

        connection.Abort();

        await connection.ReceiveLoop.WaitAsync(timeout.Token);
        await connection.Completion.WaitAsync(timeout.Token);
        await Assert.ThrowsAsync<WebSocketClosedException>(() => pending.WaitAsync(timeout.Token));
        Assert.Equal(WebSocketConnectionState.Closed, connection.State);
    }

    [Theory]
    [MemberData(nameof(TextSizes))]
    public async Task SendTextAsync_OfSize_IsEchoedIntact(int size)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);
        string text = string.Create(size, 0, static (span, _) =>
        {
            for (int i = 0; i < span.Length; i++)
            {
                span[i] = (char)('a' + (i % 26));
            }
        });

        await connection.SendTextAsync(text, timeout.Token);
        WebSocketMessage echoed = await connection.ReceiveMessageAsync(timeout.Token);

        Assert.Equal(WebSocketMessageType.Text, echoed.MessageType);
        Assert.Equal(size, echoed.Text!.Length);
        Assert.True(string.Equals(text, echoed.Text, StringComparison.Ordinal), $"The echoed text of {size} chars differs.");
    }

    [Theory]
    [MemberData(nameof(BinarySizes))]
    public async Task SendBinaryAsync_OfSize_IsEchoedIntact(int size)
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);
        byte[] payload = new byte[size];
        new Random(size).NextBytes(payload);

        // Received concurrently: a 16 MiB echo outgrows the socket buffers before the send completes.
        ValueTask<WebSocketMessage> receive = connection.ReceiveMessageAsync(timeout.Token);
        await connection.SendBinaryAsync(payload, timeout.Token);
        WebSocketMessage echoed = await receive;

        Assert.Equal(WebSocketMessageType.Binary, echoed.MessageType);
        Assert.Equal(size, echoed.Data.Length);
        Assert.True(payload.AsSpan().SequenceEqual(echoed.Data.Span), $"The echoed {size} bytes differ.");
    }

    [Fact]
    public async Task SendTextAsync_MultibyteUtf8_IsEchoedIntact()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);

        // The long one makes multibyte sequences straddle every read buffer and receive chunk boundary.
        string[] texts = [MultibyteText, string.Concat(Enumerable.Repeat(MultibyteText, 4_000))];
        foreach (string text in texts)
        {
            await connection.SendTextAsync(text, timeout.Token);
            WebSocketMessage echoed = await connection.ReceiveMessageAsync(timeout.Token);

            Assert.Equal(WebSocketMessageType.Text, echoed.MessageType);
            Assert.True(string.Equals(text, echoed.Text, StringComparison.Ordinal), $"The echoed text of {Encoding.UTF8.GetByteCount(text)} bytes differs.");
        }
    }

    [Fact]
    public async Task SendAsync_ThousandMessagesPipelined_AreEchoedInOrder()
    {
        const int Count = 1_000;
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);

        // Every send is started before any is awaited; text and binary alternate.
        var sends = new Task[Count];
        for (int i = 0; i < Count; i++)
        {
            sends[i] = i % 2 == 0
                ? connection.SendTextAsync($"message {i}", timeout.Token).AsTask()
                : connection.SendBinaryAsync(BinaryIndex(i), timeout.Token).AsTask();
        }

        for (int i = 0; i < Count; i++)
        {
            WebSocketMessage echoed = await connection.ReceiveMessageAsync(timeout.Token);
            if (i % 2 == 0)
            {
                Assert.Equal(WebSocketMessageType.Text, echoed.MessageType);
                Assert.Equal($"message {i}", echoed.Text);
            }
            else
            {
                Assert.Equal(WebSocketMessageType.Binary, echoed.MessageType);
                Assert.Equal(BinaryIndex(i), echoed.Data.ToArray());
            }
        }

        await Task.WhenAll(sends);

        static byte[] BinaryIndex(int i)
        {
            byte[] bytes = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(bytes, i);
            return bytes;
        }
    }

    [Fact]
    public async Task Connect_CustomHeaders_ArriveAtServer()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(HeadersUri, timeout.Token, options =>
        {
            options.Handshake.Headers["Authorization"] = "Bearer t0k3n";
            options.Handshake.Headers["X-Tenant-Id"] = "acme";
            options.Handshake.Headers["Accept-Language"] = "de";
        });

        WebSocketMessage first = await connection.ReceiveMessageAsync(timeout.Token);
        Assert.Equal(WebSocketMessageType.Text, first.MessageType);
        Dictionary<string, string> headers = JsonSerializer.Deserialize<Dictionary<string, string>>(first.Text!)!;

        Assert.Equal("Bearer t0k3n", headers["authorization"]);
        Assert.Equal("acme", headers["x-tenant-id"]);
        Assert.Equal("de", headers["accept-language"]);

        // The endpoint echoes afterwards: the connection is usable after the headers message.
        await connection.SendTextAsync("after headers", timeout.Token);
        Assert.Equal("after headers", (await connection.ReceiveMessageAsync(timeout.Token)).Text);
    }

    [Fact]
    public async Task Connect_SubProtocolsOffered_ServerChoiceIsReported()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(SubProtocolUri, timeout.Token, options =>
        {
            foreach (string subProtocol in OfferedSubProtocols)
            {
                options.Handshake.SubProtocols.Add(subProtocol);
            }
        });

        Assert.Equal(ExpectedSubProtocol, connection.SubProtocol);
        Assert.Equal(ExpectedSubProtocol, connection.HandshakeResponse!.SubProtocol);
        await connection.SendTextAsync("negotiated", timeout.Token);
        Assert.Equal("negotiated", (await connection.ReceiveMessageAsync(timeout.Token)).Text);
    }

    [Fact]
    public async Task PingAsync_ServerAnswers_ReturnsPositiveRoundTripTime()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);
        Assert.Null(connection.LastRoundTripTime);

        TimeSpan rtt = await connection.PingAsync("rtt"u8.ToArray(), timeout.Token);

        Assert.True(rtt > TimeSpan.Zero, $"The round-trip time {rtt} is not positive.");
        Assert.Equal(rtt, connection.LastRoundTripTime);
        Assert.Equal(WebSocketConnectionState.Open, connection.State);
    }

    [Fact]
    public async Task CloseAsync_ByClient_CompletesWithServerEcho()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);
        await connection.SendTextAsync("before close", timeout.Token);
        Assert.Equal("before close", (await connection.ReceiveMessageAsync(timeout.Token)).Text);

        await connection.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);

        Assert.Equal(WebSocketConnectionState.Closed, connection.State);
        Assert.True(connection.Completion.IsCompletedSuccessfully);
        Assert.Null(connection.CloseError);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, connection.LocalCloseStatus);
        Assert.Equal("bye", connection.LocalCloseStatusDescription);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, connection.RemoteCloseStatus);
        Assert.Equal("bye", connection.RemoteCloseStatusDescription);

        WebSocketMessage after = await connection.ReceiveMessageAsync(timeout.Token);
        Assert.True(after.IsClose);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, after.CloseStatus);
    }

    [Fact]
    public async Task CloseAsync_WithEchoesUnread_EchoesStayReadableBeforeClose()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);
        string[] texts = ["one", "two", "three"];
        foreach (string text in texts)
        {
            await connection.SendTextAsync(text, timeout.Token);
        }

        // The server echoes the three before it answers the Close, and they are not read yet.
        await connection.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token);

        // Whatever the server echoed before its Close is still readable, in order; then the Close.
        var echoed = new List<string>();
        WebSocketMessage message;
        while (!(message = await connection.ReceiveMessageAsync(timeout.Token)).IsClose)
        {
            echoed.Add(message.Text!);
        }

        Assert.Equal(texts.Take(echoed.Count), echoed);
        if (EchoesBeforeAnsweringClose)
        {
            Assert.Equal(texts, echoed);
        }

        Assert.Equal(WebSocketCloseStatus.NormalClosure, connection.RemoteCloseStatus);
    }

    [Fact]
    public async Task ReceiveAsync_SmallBuffer_ReadsLargeMessageInPieces()
    {
        const int Size = 1024 * 1024;
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(EchoUri, timeout.Token);
        byte[] payload = new byte[Size];
        new Random(42).NextBytes(payload);
        await connection.SendBinaryAsync(payload, timeout.Token);

        byte[] received = new byte[Size];
        byte[] piece = new byte[4000];
        int total = 0;
        while (true)
        {
            ValueWebSocketReceiveResult result = await connection.ReceiveAsync(piece, timeout.Token);
            Assert.Equal(WebSocketMessageType.Binary, result.MessageType);
            Assert.True(total + result.Count <= Size, "More bytes arrived than were sent.");
            piece.AsSpan(0, result.Count).CopyTo(received.AsSpan(total));
            total += result.Count;
            if (result.EndOfMessage)
            {
                break;
            }
        }

        Assert.Equal(Size, total);
        Assert.True(payload.AsSpan().SequenceEqual(received), "The message read in pieces differs.");
    }

    [Fact]
    public async Task ReceiveMessageAsync_ServerCloses_ReturnsCloseWithCodeAndReason()
    {
        using var timeout = TestTimeouts.CreateSource();
        await using var connection = await ConnectAsync(GetServerCloseUri(4001), timeout.Token);

        WebSocketMessage message = await connection.ReceiveMessageAsync(timeout.Token);

        Assert.True(message.IsClose, $"Expected a Close, got {message}.");
        Assert.Equal((WebSocketCloseStatus)4001, message.CloseStatus);
        Assert.Equal(ServerCloseReason, message.CloseStatusDescription);
        await connection.Completion.WaitAsync(timeout.Token);
        Assert.Equal(WebSocketConnectionState.Closed, connection.State);
        Assert.Null(connection.CloseError);
        Assert.Equal((WebSocketCloseStatus)4001, connection.RemoteCloseStatus);
        Assert.Equal(ServerCloseReason, connection.RemoteCloseStatusDescription);

        // RFC 6455 §5.5.1: the answering Close echoes the status code received.
        Assert.Equal((WebSocketCloseStatus)4001, connection.LocalCloseStatus);
    }

    /// <summary>
    /// Opens a connection with test settings: messages up to 32 MiB, no keepalive, a 2 s close timeout, and this
    /// server's handshake settings, then <paramref name="configure"/>.
    /// </summary>
    protected async Task<WebSocketConnection> ConnectAsync(
        Uri uri, CancellationToken cancellationToken, Action<WebSocketConnectionOptions>? configure = null)
    {
        var options = new WebSocketConnectionOptions
        {
            MaxMessageSize = MaxMessageSize,
            KeepAliveInterval = Timeout.InfiniteTimeSpan,
            CloseTimeout = TestTimeouts.Short,
        };
        options.Handshake.OpenTimeout = TestTimeouts.Default;
        ConfigureHandshake(options.Handshake);
        ConfigureConnection(options);
        configure?.Invoke(options);

        var connection = new WebSocketConnection(options);
        try
        {
            await connection.ConnectAsync(uri, cancellationToken);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }
}
