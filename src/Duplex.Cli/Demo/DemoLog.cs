using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Duplex.Cli.Demo;

/// <summary>A logger that keeps what the library logs, so the demo can show it and check that no secret is in it.</summary>
internal sealed class DemoLog : ILogger
{
    private readonly ConcurrentQueue<string> _entries = new();

    public IReadOnlyCollection<string> Entries => _entries;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            _entries.Enqueue($"{logLevel}: {formatter(state, exception)}");
        }
    }
}
