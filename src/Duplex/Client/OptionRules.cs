namespace Duplex.Client;

/// <summary>Shared checks for option values.</summary>
internal static class OptionRules
{
    public static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, "The duration must be positive.");
        }
    }
}
