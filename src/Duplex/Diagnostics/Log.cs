using Microsoft.Extensions.Logging;

namespace Duplex.Diagnostics;

/// <summary>
/// Every log message Duplex writes, as source-generated <see cref="LoggerMessageAttribute"/> methods.
/// One partial file per layer; event ids are stable and grouped by layer: 100–199 handshake,
/// 200–299 connection, 300–399 client, 400–499 manager. Payload bytes are logged only at Trace and
/// secrets never (see <see cref="Redaction"/>).
/// </summary>
internal static partial class Log
{
    /// <summary>The logger category used by every Duplex component.</summary>
    public const string Category = "Duplex";
    /// <summary>A value as a person reads it in a log line: "none" rather than "(null)" or "()".</summary>
    public static string Shown(string? value) => string.IsNullOrEmpty(value) ? "none" : value;

    /// <summary>A close status as a person reads it in a log line: its number, or "none".</summary>
    public static string Shown(System.Net.WebSockets.WebSocketCloseStatus? status) =>
        status is { } code ? ((int)code).ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";
}
