namespace Duplex.Chaos;

/// <summary>What became of one send call.</summary>
internal enum MessageOutcome : byte
{
    /// <summary>The call has not returned.</summary>
    Pending,

    /// <summary>The call completed: the client took the message.</summary>
    Accepted,

    /// <summary>The call threw: the message was reported as not sent.</summary>
    Failed,
}
