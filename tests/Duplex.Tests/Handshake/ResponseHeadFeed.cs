using System.Globalization;
using Duplex.Handshake;
using Duplex.Handshake.Rules;
using Duplex.Tests.Protocol;

namespace Duplex.Tests.Handshake;

/// <summary>
/// Feeds response bytes to <see cref="Http11ResponseHead"/> in pieces, the way the socket
/// transport reads them: the received bytes grow piece by piece, each head is looked for from where
/// the previous one ended, and 1xx interim heads other than 101 are skipped. Records the verdict as
/// comparable strings.
/// </summary>
internal static class ResponseHeadFeed
{
    public static ResponseHeadTrace Run(byte[] bytes, int[] chunkSizes)
    {
        var trace = new ResponseHeadTrace();
        int headStart = 0;
        int scanned = 0;
        int lineStart = 0;
        foreach ((int start, int length) in Chunking.Pieces(bytes.Length, chunkSizes))
        {
            trace.Pieces++;
            ReadOnlySpan<byte> received = bytes.AsSpan(0, start + length);
            while (true)
            {
                int scannedBefore = scanned;
                int headLength = Http11ResponseHead.FindEnd(received[headStart..], ref scanned, ref lineStart, out string? error);
                trace.FindEndCalls++;

                // Each byte is examined once: the scan only moves forward, and never past what arrived.
                Check(scanned >= scannedBefore && headStart + scanned <= received.Length, $"scanned {scannedBefore} -> {scanned} of {received.Length - headStart}");
                Check(lineStart >= 0 && lineStart <= scanned, $"line start {lineStart} past scanned {scanned}");
                if (error is not null)
                {
                    Check(headLength == 0 && error.Length > 0, "an error with a head length");
                    trace.Events.Add("invalid http: " + error);
                    return trace;
                }

                if (headLength == 0)
                {
                    break;
                }

                Check(headLength == scanned, $"head of {headLength} bytes after scanning {scanned}");
                Http11ResponseHead? head = Http11ResponseHead.Parse(received.Slice(headStart, headLength), out error);
                headStart += headLength;
                if (head is null)
                {
                    Check(!string.IsNullOrEmpty(error), "no head and no error");
                    trace.Events.Add("invalid http: " + error);
                    return trace;
                }

                Check(error is null, "a head and an error");
                if (head.StatusCode is >= 100 and < 200 and not 101)
                {
                    trace.Events.Add(string.Create(CultureInfo.InvariantCulture, $"interim {head.StatusCode}"));
                    scanned = 0;
                    lineStart = 0;
                    continue;
                }

                trace.Head = head;
                trace.HeadEnd = headStart;
                trace.Events.Add(Describe(head));
                return trace;
            }
        }

        trace.Events.Add("incomplete");
        return trace;
    }

    /// <summary>Status line and fields, names as reported, values in order.</summary>
    public static string Describe(Http11ResponseHead head) => string.Create(
        CultureInfo.InvariantCulture,
        $"head HTTP/{head.Version} {head.StatusCode} [{head.ReasonPhrase}] {string.Join(" ", head.Headers.Select(h => $"{h.Key}=[{string.Join("|", h.Value)}]"))}");

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            Assert.Fail(message);
        }
    }
}
