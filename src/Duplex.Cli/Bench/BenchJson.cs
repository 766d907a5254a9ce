using System.Text.Json;
using System.Text.Json.Serialization;

namespace Duplex.Cli.Bench;

/// <summary>Source-generated JSON for <c>duplex bench --json</c> (web naming: camelCase).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(BenchReport))]
internal sealed partial class BenchJson : JsonSerializerContext;
