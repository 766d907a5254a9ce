namespace Duplex.Cli.Serve;

/// <summary>An opening handshake the local server accepted: the request as the server saw it, secrets included (never print these values as they are).</summary>
internal sealed record RecordedHandshake(int Connection, string Path, IReadOnlyDictionary<string, string> Headers, string? SubProtocol);
