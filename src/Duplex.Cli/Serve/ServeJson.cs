using System.Text.Json;
using System.Text.Json.Serialization;

namespace Duplex.Cli.Serve;

/// <summary>Source-generated JSON for the server's own messages (web naming: camelCase).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(PushMessage))]
[JsonSerializable(typeof(HeadersMessage))]
internal sealed partial class ServeJson : JsonSerializerContext;
