namespace Duplex.Cli.Serve;

/// <summary>The handshake headers the server received, secrets masked, as <c>/headers</c> and <c>--headers</c> reply them.</summary>
internal sealed record HeadersMessage(string Type, string Path, SortedDictionary<string, string> Headers);
