namespace Duplex.Client;

/// <summary>The outcome of <see cref="WebSocketClient.PingAsync(ReadOnlyMemory{byte}, TimeSpan?, CancellationToken)"/>.</summary>
/// <param name="Success">Whether the Pong came back within the timeout.</param>
/// <param name="RoundTripTime">The round-trip time when it did; the time waited when it did not.</param>
public readonly record struct WebSocketPingResult(bool Success, TimeSpan RoundTripTime);
