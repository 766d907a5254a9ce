namespace Duplex.Fuzz;

/// <summary>The harness's own checks; a broken one is reported to the fuzzer as a crash.</summary>
internal static class Invariant
{
    public static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException("Fuzz invariant broken: " + message);
        }
    }
}
