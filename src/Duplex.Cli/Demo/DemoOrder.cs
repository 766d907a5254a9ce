namespace Duplex.Cli.Demo;

/// <summary>The object the demo sends as JSON and reads back.</summary>
internal sealed record DemoOrder(string Side, string Symbol, int Quantity);
