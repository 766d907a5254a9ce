using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Duplex.Benchmarks.Micro;

/// <summary>
/// GB/s (10^9 bytes per second) from the mean time per operation and the bytes one operation
/// processes: the <c>Size</c> parameter, or <see cref="BytesPerOperationAttribute"/> on the method.
/// </summary>
public sealed class ThroughputColumn : IColumn
{
    public string Id => nameof(ThroughputColumn);

    public string ColumnName => "GB/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Payload bytes processed per second, in 10^9 bytes (GB/s)";

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        BenchmarkReport? report = summary[benchmarkCase];
        double? meanNanoseconds = report?.ResultStatistics?.Mean;
        long? bytes = BytesOf(benchmarkCase);
        if (meanNanoseconds is not > 0 || bytes is null)
        {
            return "-";
        }

        return (bytes.Value / meanNanoseconds.Value).ToString("0.00", CultureInfo.InvariantCulture);
    }

    private static long? BytesOf(BenchmarkCase benchmarkCase)
    {
        MethodInfo method = benchmarkCase.Descriptor.WorkloadMethod;
        if (method.GetCustomAttribute<BytesPerOperationAttribute>() is { } attribute)
        {
            return attribute.Bytes;
        }

        object? size = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Size")?.Value;
        return size is null ? null : Convert.ToInt64(size, CultureInfo.InvariantCulture);
    }
}
