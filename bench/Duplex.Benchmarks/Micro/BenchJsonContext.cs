using System.Text.Json.Serialization;

namespace Duplex.Benchmarks.Micro;

/// <summary>Source-generated System.Text.Json metadata for <see cref="Quote"/>.</summary>
[JsonSerializable(typeof(Quote))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
public sealed partial class BenchJsonContext : JsonSerializerContext;
