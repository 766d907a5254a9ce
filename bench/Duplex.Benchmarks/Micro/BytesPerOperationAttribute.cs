namespace Duplex.Benchmarks.Micro;

/// <summary>
/// How many payload bytes one invocation of the benchmark method processes, for the GB/s column of
/// benchmarks whose size is not a <c>Size</c> parameter.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BytesPerOperationAttribute(long bytes) : Attribute
{
    public long Bytes { get; } = bytes;
}
