namespace Duplex.Fuzz;

/// <summary>
/// One thing to fuzz: a name for the command line and a check that takes any input. The check
/// returns normally when the code under test did what it promises for that input, the promised
/// protocol errors included, and throws otherwise; a thrown exception is what the fuzzer reports as
/// a crash.
/// </summary>
/// <param name="Name">The command-line name, also the corpus folder's.</param>
/// <param name="Run">Runs the input through the code under test and checks what came out.</param>
internal sealed record FuzzTarget(string Name, Action<byte[]> Run)
{
    /// <summary>Every target, by name.</summary>
    public static readonly IReadOnlyList<FuzzTarget> All =
    [
        new("frame-decoder", FrameDecoderTarget.Run),
        new("handshake-response", HandshakeResponseTarget.Run),
        new("utf8-validator", Utf8ValidatorTarget.Run),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
