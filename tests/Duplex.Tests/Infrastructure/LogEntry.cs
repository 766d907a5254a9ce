using Microsoft.Extensions.Logging;

namespace Duplex.Tests.Infrastructure;

/// <summary>One entry a <see cref="CapturingLogger"/> kept: level, event, formatted message, exception and structured values.</summary>
internal sealed record LogEntry(LogLevel Level, EventId EventId, string Message, Exception? Exception, IReadOnlyList<KeyValuePair<string, object?>> State);
