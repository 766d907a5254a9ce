namespace Duplex.Client;

/// <summary>What a send does when the outbox (messages waiting for a connection) is full.</summary>
public enum OutboxOverflowPolicy
{
    /// <summary>The send waits until there is room (or its cancellation token fires).</summary>
    Wait,

    /// <summary>The send fails at once with <see cref="WebSocketOutboxFullException"/>.</summary>
    Fail,

    /// <summary>
    /// The oldest waiting message is dropped to make room: its send fails with
    /// <see cref="WebSocketMessageDroppedException"/> and <see cref="WebSocketClientOptions.MessageDropped"/> receives it.
    /// </summary>
    DropOldest,
}
