namespace Duplex.Chaos;

/// <summary>What one server-side connection received; written only by its own handler, read once it has ended.</summary>
internal sealed class ServerConnectionLog(int id)
{
    public int Id { get; } = id;

    /// <summary>Sender and sequence number of each message, in arrival order.</summary>
    public List<(int Sender, long Sequence)> Messages { get; } = [];

    public long Bytes { get; set; }

    public int Unparsed { get; set; }

    public bool ClosedCleanly { get; set; }

    public bool Ended { get; set; }
}
