namespace Duplex.Internal;

/// <summary>
/// Faults a waiter's task and marks the exception observed at once. A waiter may have stopped waiting
/// (its caller cancelled, or nobody ever awaited it, as with keepalive's own Pings); its fault must not
/// surface later as <see cref="TaskScheduler.UnobservedTaskException"/>. Awaiting the task still throws.
/// </summary>
internal static class ObservedFault
{
    /// <summary>Faults <paramref name="completion"/> with <paramref name="error"/> unless it has completed.</summary>
    public static void TrySet(TaskCompletionSource completion, Exception error)
    {
        if (completion.TrySetException(error))
        {
            _ = completion.Task.Exception;
        }
    }

    /// <summary>Faults <paramref name="completion"/> with <paramref name="error"/> unless it has completed.</summary>
    public static void TrySet<T>(TaskCompletionSource<T> completion, Exception error)
    {
        if (completion.TrySetException(error))
        {
            _ = completion.Task.Exception;
        }
    }
}
