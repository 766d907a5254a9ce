using System.Net.WebSockets;

namespace Duplex.Cli.Serve;

/// <summary>How a connection to the local server ended: the client's close code and reason, or none when it was lost or dropped.</summary>
internal sealed record RecordedClose(int Connection, WebSocketCloseStatus? Status, string? Description, bool Dropped);
