namespace Duplex.Cli.Demo;

/// <summary>A demo step did not do what it says; the message says what was expected and what happened.</summary>
internal sealed class StepFailedException : Exception
{
    public StepFailedException()
    {
    }

    public StepFailedException(string message)
        : base(message)
    {
    }

    public StepFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
