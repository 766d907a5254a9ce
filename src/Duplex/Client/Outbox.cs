using System.Net.WebSockets;
using Duplex.Diagnostics;

namespace Duplex.Client;

/// <summary>A message waiting in the outbox, with the send call that waits for it.</summary>
internal sealed class OutboxItem : WebSocketOutgoingMessage
{
    public OutboxItem(WebSocketMessageType messageType, string? text, ReadOnlyMemory<byte> data, bool hasSender = true)
        : base(messageType, text, data, textAsBytes: !hasSender)
    {
        HasSender = hasSender;
    }

    /// <summary>
    /// Whether a send call waits for this message. False for a message taken back from a failed
    /// connection: its send already completed, so only the drop callback can hear of its fate.
    /// </summary>
    public bool HasSender { get; }

    /// <summary>Completes when the message has been handed to a connection, or fails when it never will be.</summary>
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LinkedListNode<OutboxItem>? Node { get; set; }

    public CancellationTokenRegistration Cancellation { get; set; }
}

/// <summary>
/// Messages accepted while no connection can take them, in order, bounded by a capacity. Not
/// thread-safe: the client guards it with its lock. Every message leaves it one way only: handed to a
/// connection, cancelled by its sender, dropped (reported), or failed when the client closes.
/// </summary>
internal sealed class Outbox(int capacity)
{
    // Created on first use: the outbox of a client that never had to wait holds nothing.
    private LinkedList<OutboxItem>? _items;
    private Queue<TaskCompletionSource>? _spaceWaiters;

    public int Count => _items?.Count ?? 0;

    public bool IsFull => Count >= capacity;

    public void Add(OutboxItem item)
    {
        item.Node = (_items ??= new LinkedList<OutboxItem>()).AddLast(item);
        DuplexTelemetry.OutboxDepth.Add(1);
    }

    /// <summary>Puts a message that a dying connection could not take back at the head.</summary>
    public void AddFirst(OutboxItem item)
    {
        item.Node = (_items ??= new LinkedList<OutboxItem>()).AddFirst(item);
        DuplexTelemetry.OutboxDepth.Add(1);
    }

    /// <summary>Takes the oldest message, or null when empty.</summary>
    public OutboxItem? TakeFirst()
    {
        LinkedListNode<OutboxItem>? first = _items?.First;
        if (first is null)
        {
            return null;
        }

        Detach(first.Value);
        return first.Value;
    }

    /// <summary>Removes a message still waiting (its sender cancelled); false when it already left.</summary>
    public bool Remove(OutboxItem item)
    {
        if (_items is null || item.Node?.List != _items)
        {
            return false;
        }

        Detach(item);
        return true;
    }

    /// <summary>Takes every waiting message, oldest first.</summary>
    public List<OutboxItem> TakeAll()
    {
        var all = new List<OutboxItem>(Count);
        while (TakeFirst() is { } item)
        {
            all.Add(item);
        }

        return all;
    }

    /// <summary>A task that completes when a place frees up (or at once if one is free).</summary>
    public Task WaitForSpaceAsync()
    {
        if (!IsFull)
        {
            return Task.CompletedTask;
        }

        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        (_spaceWaiters ??= new Queue<TaskCompletionSource>()).Enqueue(waiter);
        return waiter.Task;
    }

    /// <summary>Wakes every sender waiting for space (they check again), e.g. when the client closes.</summary>
    public void WakeAll()
    {
        while (_spaceWaiters is not null && _spaceWaiters.TryDequeue(out TaskCompletionSource? waiter))
        {
            waiter.TrySetResult();
        }
    }

    private void Detach(OutboxItem item)
    {
        _items!.Remove(item.Node!);
        item.Node = null;
        DuplexTelemetry.OutboxDepth.Add(-1);
        if (_spaceWaiters is not null && _spaceWaiters.TryDequeue(out TaskCompletionSource? waiter))
        {
            waiter.TrySetResult();
        }
    }
}
