using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Infrastructure;

/// <summary>An <see cref="ILogger"/> that keeps every entry, for asserting what was (and was not) logged.</summary>
internal sealed class CapturingLogger : ILogger
{
    private readonly List<LogEntry> _entries = [];
    private readonly Lock _lock = new();

    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>Everything logged, one line per entry, with structured values, for "never contains a secret" checks.</summary>
    public string AllText => string.Join('\n', Entries.Select(e => e.Message + " | " + string.Join(", ", e.State.Select(kv => kv.Key + "=" + kv.Value))));

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var values = state as IReadOnlyList<KeyValuePair<string, object?>> ?? [];
        lock (_lock)
        {
            _entries.Add(new LogEntry(logLevel, eventId, formatter(state, exception), exception, [.. values]));
        }
    }
}
