using System.Net;
using System.Net.Sockets;

namespace Duplex.Handshake.Transports;

/// <summary>
/// Opens the TCP connections of both transports: the socket transport's own, and SocketsHttpHandler's
/// through its connect callback, so the two connect exactly alike.
/// </summary>
internal static class TcpConnector
{
    /// <summary>
    /// Opens a TCP connection, with TCP_NODELAY as asked. A dual-mode socket with a
    /// <see cref="DnsEndPoint"/> resolves the name and tries every address it resolves to, IPv6 and
    /// IPv4, in order.
    /// </summary>
    /// <remarks>
    /// The connect runs on event args of its own, disposed afterwards: <see cref="Socket.ConnectAsync(EndPoint, CancellationToken)"/>
    /// would use the socket's cached receive args, which then keep the endpoint and the
    /// cancellation token (with everything linked to it) for as long as the connection lives.
    /// </remarks>
    public static async ValueTask<Socket> ConnectAsync(DnsEndPoint endPoint, bool noDelay, CancellationToken cancellationToken)
    {
        Socket socket = CreateSocket(endPoint, noDelay, cancellationToken);
        try
        {
            using var connect = new ConnectEventArgs { RemoteEndPoint = endPoint };
            if (socket.ConnectAsync(connect))
            {
                using (cancellationToken.UnsafeRegister(static args => Socket.CancelConnectAsync((SocketAsyncEventArgs)args!), connect))
                {
                    await connect.Completion.ConfigureAwait(false);
                }
            }
            else
            {
                connect.Complete();
                await connect.Completion.ConfigureAwait(false);
            }

            return socket;
        }
        catch (Exception exception)
        {
            socket.Dispose();
            ThrowIfCanceled(exception, cancellationToken);
            throw;
        }
    }

    /// <summary>
    /// Opens a TCP connection with blocking calls on the calling thread (after an asynchronous name
    /// resolution, which never touches the socket), for a socket that must never meet the runtime's socket engine (see
    /// <see cref="BlockingNetworkStream"/>). Cancellation disposes the socket, which ends the connect.
    /// </summary>
    public static Socket Connect(DnsEndPoint endPoint, bool noDelay, CancellationToken cancellationToken)
    {
        Socket socket = CreateSocket(endPoint, noDelay, cancellationToken);
        try
        {
            // The name is resolved asynchronously (it never touches the socket), so the open timeout bounds it;
            // then each address is tried in turn with a blocking connect, which cancellation ends by closing the socket.
            IPAddress[] addresses = Dns.GetHostAddressesAsync(endPoint.Host, cancellationToken).GetAwaiter().GetResult();
            using (cancellationToken.UnsafeRegister(static socket => ((Socket)socket!).Dispose(), socket))
            {
                socket.Connect(addresses, endPoint.Port);
            }

            cancellationToken.ThrowIfCancellationRequested();
            return socket;
        }
        catch (Exception exception)
        {
            socket.Dispose();
            ThrowIfCanceled(exception, cancellationToken);
            throw;
        }
    }

    /// <summary>A connect that failed because it was canceled surfaces as cancellation, its cause inside.</summary>
    private static void ThrowIfCanceled(Exception exception, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The connect was canceled.", exception, cancellationToken);
        }
    }

    /// <summary>The socket for a connect to <paramref name="endPoint"/>, unless the name can never resolve or the connect is canceled already.</summary>
    private static Socket CreateSocket(DnsEndPoint endPoint, bool noDelay, CancellationToken cancellationToken)
    {
        // RFC 6761 §6.4: names under "invalid." never resolve, and resolution APIs should say so at
        // once rather than ask DNS.
        if (endPoint.Host.EndsWith(".invalid", StringComparison.OrdinalIgnoreCase) ||
            endPoint.Host.EndsWith(".invalid.", StringComparison.OrdinalIgnoreCase))
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = noDelay };
    }

    /// <summary>Event args for one connect, completing a task.</summary>
    private sealed class ConnectEventArgs() : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Completion => _completion.Task;

        /// <summary>Completes <see cref="Completion"/> with the outcome of the connect.</summary>
        public void Complete()
        {
            if (SocketError == SocketError.Success)
            {
                _completion.TrySetResult();
            }
            else
            {
                // A failed name resolution is reported with its own exception.
                _completion.TrySetException(ConnectByNameError ?? new SocketException((int)SocketError));
            }
        }

        protected override void OnCompleted(SocketAsyncEventArgs e) => Complete();
    }
}
