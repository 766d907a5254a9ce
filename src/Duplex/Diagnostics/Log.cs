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
}
