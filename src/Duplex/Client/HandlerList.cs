namespace Duplex.Client;

/// <summary>
/// Registered handlers of one event, in registration order. Copy-on-write: invoking reads a
/// snapshot without locking; a registration is removed by disposing what <see cref="Add"/> returned.
/// Changes lock the list itself (it is internal, nobody else can take that lock): a client has five
/// of these, and an idle client should not carry a lock object for each.
/// </summary>
internal sealed class HandlerList<T>
    where T : class
{
    private T[] _handlers = [];

    public T[] Snapshot => Volatile.Read(ref _handlers);

    public IDisposable Add(T handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (this)
        {
            _handlers = [.. _handlers, handler];
        }

        return new Registration(this, handler);
    }

    private void Remove(T handler)
    {
        lock (this)
        {
            int index = Array.IndexOf(_handlers, handler);
            if (index >= 0)
            {
                _handlers = [.. _handlers.AsSpan(0, index), .. _handlers.AsSpan(index + 1)];
            }
        }
    }

    private sealed class Registration(HandlerList<T> list, T handler) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                list.Remove(handler);
            }
        }
    }
}
