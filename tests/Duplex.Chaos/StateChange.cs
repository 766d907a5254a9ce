using Duplex.Client;

namespace Duplex.Chaos;

/// <summary>One state change of the client, at a <see cref="System.Diagnostics.Stopwatch"/> timestamp.</summary>
internal readonly record struct StateChange(long Timestamp, WebSocketClientState From, WebSocketClientState To);
