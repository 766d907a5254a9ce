using Duplex.Handshake;
using Duplex.Handshake.Rules;

namespace Duplex.Tests.Handshake;

/// <summary>What <see cref="ResponseHeadFeed"/> made of a response: events, and the final head if one was found.</summary>
internal sealed class ResponseHeadTrace
{
    /// <summary><c>interim 1xx</c> for each skipped head, then the final head, <c>invalid http: …</c> or <c>incomplete</c>.</summary>
    public List<string> Events { get; } = [];

    public Http11ResponseHead? Head { get; set; }

    /// <summary>Where the bytes after the final head begin (the first WebSocket frame).</summary>
    public int HeadEnd { get; set; }

    public int FindEndCalls { get; set; }

    public int Pieces { get; set; }

    public override string ToString() => string.Join(" | ", Events);
}
