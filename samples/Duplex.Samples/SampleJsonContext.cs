using System.Text.Json.Serialization;

namespace Duplex.Samples;

/// <summary>A subscription request.</summary>
internal sealed record SubscribeRequest(string Type, string Channel);

/// <summary>An authentication request.</summary>
internal sealed record AuthRequest(string Type, string Token);

/// <summary>Source-generated JSON metadata, so the samples stay trimming and AOT safe.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SubscribeRequest))]
[JsonSerializable(typeof(AuthRequest))]
internal sealed partial class SampleJsonContext : JsonSerializerContext;
