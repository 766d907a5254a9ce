using System.Globalization;
using System.Runtime.InteropServices;

namespace Duplex.Benchmarks.Loopback;

/// <summary>What the numbers were measured on.</summary>
internal static class MachineInfo
{
    public static string CpuModel()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal))
                {
                    return line.Substring(line.IndexOf(':', StringComparison.Ordinal) + 1).Trim();
                }
            }
        }
        catch (IOException)
        {
            // Not Linux, or not readable: fall through.
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }

        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>The 1-minute load average, to show whether something else competed for the CPU.</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "n/a";
        }
    }

    public static string Describe() => string.Create(
        CultureInfo.InvariantCulture,
        $"CPU: {CpuModel()}, {Environment.ProcessorCount} cores; {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier}); {RuntimeInformation.OSDescription.Trim()}; GC: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}");
}
