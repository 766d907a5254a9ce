namespace Duplex.Cli.Serve;

/// <summary>A message <c>duplex serve --push N</c> sends as soon as a connection opens.</summary>
internal sealed record PushMessage(string Type, int Seq, int Of);
