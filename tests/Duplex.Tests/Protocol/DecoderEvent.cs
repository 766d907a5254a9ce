using System.Globalization;
using System.Text;

namespace Duplex.Tests.Protocol;

/// <summary>The event strings of <see cref="DecodeTrace"/>, for writing expectations.</summary>
internal static class DecoderEvent
{
    public const string Incomplete = "incomplete";

    public static string Text(string text) => Text(Encoding.UTF8.GetBytes(text));

    public static string Text(ReadOnlySpan<byte> payload, bool compressed = false) => Data("text", payload, compressed);

    public static string Binary(ReadOnlySpan<byte> payload, bool compressed = false) => Data("binary", payload, compressed);

    public static string Ping(ReadOnlySpan<byte> payload) => $"ping {HexBytes.Format(payload)}".TrimEnd();

    public static string Pong(ReadOnlySpan<byte> payload) => $"pong {HexBytes.Format(payload)}".TrimEnd();

    public static string Close() => "close";

    public static string Close(int code, string reason) => string.Create(CultureInfo.InvariantCulture, $"close {code} {reason}").TrimEnd();

    public static string Violation(int code) => string.Create(CultureInfo.InvariantCulture, $"violation {code}");

    private static string Data(string kind, ReadOnlySpan<byte> payload, bool compressed) =>
        $"{kind} {HexBytes.Format(payload)}".TrimEnd() + (compressed ? " rsv1" : "");
}
