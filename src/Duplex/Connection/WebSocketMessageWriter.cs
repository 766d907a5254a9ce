using Duplex.Connection.Send;
using Duplex.Protocol;

namespace Duplex.Connection;

/// <summary>
/// Sends one message as a sequence of frames (RFC 6455 §5.4) while holding the connection's message
/// order: no other message starts until this one is completed or disposed. Control frames (Pongs,
/// keepalive Pings, Close) may still go out between its frames, as the RFC allows.
/// </summary>
/// <remarks>Not thread-safe: one producer writes the pieces in order.</remarks>
public sealed class WebSocketMessageWriter : IAsyncDisposable
{
    private readonly WebSocketConnection _connection;
    private readonly FrameSender _sender;
    private readonly Opcode _opcode;
    private Utf8Validator _utf8;
    private bool _started;
    private bool _completed;

    internal WebSocketMessageWriter(WebSocketConnection connection, FrameSender sender, Opcode opcode)
    {
        _connection = connection;
        _sender = sender;
        _opcode = opcode;
    }

    /// <summary>Sends the next piece of the message as a non-final frame.</summary>
    /// <param name="data">The piece. For text, a UTF-8 sequence may be split between pieces.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException">Text that cannot be a prefix of valid UTF-8.</exception>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        SendAsync(data, fin: false, cancellationToken);

    /// <summary>Sends the last piece (possibly empty) as the final frame and ends the message.</summary>
    /// <param name="data">The last piece.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException">Text that does not end as valid UTF-8.</exception>
    public async ValueTask CompleteAsync(ReadOnlyMemory<byte> data = default, CancellationToken cancellationToken = default)
    {
        try
        {
            await SendAsync(data, fin: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Release();
        }
    }

    /// <summary>Ends the message with an empty final frame if it was not completed, and lets other messages go.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_completed)
        {
            return;
        }

        try
        {
            if (_opcode == Opcode.Text && _utf8.HasIncompleteSequence)
            {
                // The text cannot be ended validly and no other message may start before it ends.
                _connection.Abort();
            }
            else
            {
                await SendAsync(ReadOnlyMemory<byte>.Empty, fin: true, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is DuplexException or OperationCanceledException or ArgumentException)
        {
            // Disposal never throws; a connection that cannot finish the message is closing anyway.
        }
        finally
        {
            Release();
        }
    }

    private async ValueTask SendAsync(ReadOnlyMemory<byte> data, bool fin, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (_opcode == Opcode.Text && !_utf8.Append(data.Span, fin))
        {
            throw new ArgumentException("A text message must be valid UTF-8.", nameof(data));
        }

        Opcode opcode = _started ? Opcode.Continuation : _opcode;
        _started = true;
        await _sender.SendFragmentAsync(opcode, fin, data, cancellationToken).ConfigureAwait(false);
    }

    private void Release()
    {
        if (!_completed)
        {
            _completed = true;
            _sender.ReleaseMessageLock();
        }
    }
}
