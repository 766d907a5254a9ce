using System.Text.Json;
using System.Text.Json.Serialization;

namespace Duplex.Cli.Demo;

/// <summary>Source-generated JSON for the demo's messages (web naming, as the client's defaults).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(DemoOrder))]
internal sealed partial class DemoJson : JsonSerializerContext;
