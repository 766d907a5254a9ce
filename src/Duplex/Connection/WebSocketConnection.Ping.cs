using Duplex.Connection.Send;
using Duplex.Protocol;

namespace Duplex.Connection;

public sealed partial class WebSocketConnection
{
    /// <summary>The round-trip time of the most recent Ping answered (keepalive or <see cref="PingAsync"/>); null before any.</summary>
    public TimeSpan? LastRoundTripTime => Volatile.Read(ref _pings)?.LastRoundTrip;

    /// <summary>Created with the first Ping: an idle connection that never pinged keeps no list.</summary>
    private PendingPings Pings
    {
        get
        {
            PendingPings? existing = Volatile.Read(ref _pings);
            return existing ?? Interlocked.CompareExchange(ref _pings, new PendingPings(), null) ?? _pings!;
        }
    }

    /// <summary>
    /// Sends a Ping with <paramref name="payload"/> and completes when its Pong arrives (or a Pong
    /// for a later Ping, which acknowledges this one too), with the round-trip time.
    /// </summary>
    /// <param name="payload">At most 125 bytes of application data (RFC 6455 §5.5).</param>
    /// <param name="cancellationToken">Stops waiting for the Pong; the connection stays open.</param>
    /// <returns>The time from sending the Ping to receiving its Pong.</returns>
    /// <exception cref="ArgumentException">The payload is longer than 125 bytes.</exception>
    /// <exception cref="WebSocketClosedException">The connection was closed, lost or failed before the
    /// Pong arrived; each waiting call gets an exception of its own, with what ended the connection
    /// (an <see cref="IOException"/>, a <see cref="TimeoutException"/>, a
    /// <see cref="WebSocketProtocolException"/>) as its <see cref="Exception.InnerException"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async ValueTask<TimeSpan> PingAsync(ReadOnlyMemory<byte> payload = default, CancellationToken cancellationToken = default)
    {
        if (payload.Length > FrameHeader.MaxControlPayload)
        {
            throw new ArgumentException($"A Ping payload must be at most {FrameHeader.MaxControlPayload} bytes.", nameof(payload));
        }

        cancellationToken.ThrowIfCancellationRequested();
        PendingPings.Entry entry = SendPing(payload.ToArray(), byCaller: true);

        // The Pong comes after any large frame a receive call has left half read: the loop reads it.
        TakeFrameBack();
        try
        {
            TimeSpan rtt = await entry.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return rtt;
        }
        catch (OperationCanceledException)
        {
            Pings.Remove(entry);
            throw;
        }
    }

    /// <summary>Sends one of keepalive's Pings (and, on the same tick, lets an idle compressor go).</summary>
    internal PendingPings.Entry SendKeepAlivePing(byte[] payload)
    {
        ReleaseIdleCompression();
        return SendPing(payload, byCaller: false);
    }

    private PendingPings.Entry SendPing(byte[] payload, bool byCaller)
    {
        FrameSender sender = Sender;

        // Registered before sending, so a fast Pong always finds it.
        PendingPings.Entry entry = Pings.Add(payload, _time.GetTimestamp(), byCaller);
        try
        {
            sender.SendPing(payload);
        }
        catch
        {
            Pings.Remove(entry);
            throw;
        }

        return entry;
    }
}
