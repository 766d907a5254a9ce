namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Where one client library runs the loopback scenarios: in the benchmark's own process
/// (<see cref="ScenarioHost"/>) or in a child process of its own (<see cref="ChildScenarioHost"/>),
/// which runs a <see cref="ScenarioHost"/> in turn — so the scenario code exists once and both modes
/// time the same loops. Every reading is the client process's alone in the second case.
/// </summary>
/// <remarks>Not thread-safe: the runner drives one host at a time, one call after the other.</remarks>
internal interface IScenarioHost : IAsyncDisposable
{
    ClientKind Kind { get; }

    /// <summary>The scenarios of <paramref name="warmUp"/>, untimed, so tiered JIT, pools and GC budgets are warm.</summary>
    Task WarmAsync(WarmUp warmUp, CancellationToken cancellationToken);

    /// <summary>S1 on a connection of its own, timed from the connect to the last message.</summary>
    Task<Meter.Reading> ReceiveAsync(int count, CancellationToken cancellationToken);

    /// <summary>S2 on a connection of its own, timed over the sends and the server's count.</summary>
    Task<Meter.Reading> SendAsync(int count, CancellationToken cancellationToken);

    /// <summary>Opens the echo connection that the S3 and S4 blocks use until <see cref="CloseEchoAsync"/>.</summary>
    Task OpenEchoAsync(CancellationToken cancellationToken);

    /// <summary>S3: <paramref name="count"/> sequential 64 B text round trips, each one timed.</summary>
    Task<EchoBlock> EchoTextBlockAsync(int count, CancellationToken cancellationToken);

    /// <summary>S4: <paramref name="count"/> sequential 1 MiB binary round trips, each one timed.</summary>
    Task<EchoBlock> EchoBinaryBlockAsync(int count, CancellationToken cancellationToken);

    /// <summary>Closes the echo connection with a closing handshake (bounded).</summary>
    Task CloseEchoAsync(CancellationToken cancellationToken);
}
