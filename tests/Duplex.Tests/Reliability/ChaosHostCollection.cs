namespace Duplex.Tests.Reliability;

/// <summary>
/// Runs alone: the chaos host is a child process that keeps both cores busy and measures time bounds, so it
/// must neither compete with other tests nor be slowed down by them.
/// </summary>
[CollectionDefinition(nameof(ChaosHostCollection), DisableParallelization = true)]
public sealed class ChaosHostCollection;
