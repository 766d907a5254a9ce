using System.Globalization;

namespace Duplex.Benchmarks.Loopback;

/// <summary>
/// Ratios of paired measurements — a client's value over the reference client's value taken in the
/// same stretch of time (the same block of an interleaved scenario, or the same repetition) — with
/// their median and a distribution-free interval for that median. Pairing cancels most of the
/// machine's drift, which moves every client alike; the interval shows what is left, so a reader can
/// tell a real difference from noise.
/// </summary>
/// <remarks>
/// The interval is [x₍ₖ₎, x₍ₙ₊₁₋ₖ₎] of the sorted ratios, with the largest k for which it covers the
/// median with at least 95 % probability (the binomial sign-test interval; no assumption about the
/// shape of the distribution). Fewer than six pairs cannot reach 95 %: then it is the whole range,
/// and <see cref="Coverage"/> says how much less it covers.
/// </remarks>
internal sealed class PairedRatios
{
    private const double Confidence = 0.95;
    private static readonly CultureInfo s_culture = CultureInfo.InvariantCulture;
    private readonly double[] _sorted;

    /// <param name="ratios">One ratio per pair; NaN (a failed run on either side) is left out.</param>
    /// <param name="pairs">What a pair is, plural ("blocks", "repetitions").</param>
    public PairedRatios(IEnumerable<double> ratios, string pairs)
    {
        _sorted = [.. ratios.Where(r => !double.IsNaN(r) && !double.IsInfinity(r)).Order()];
        Pairs = pairs;
        int n = _sorted.Length;
        if (n == 0)
        {
            Median = Low = High = Coverage = double.NaN;
            return;
        }

        Median = MetricSeries.MedianOf(_sorted);
        int k = 1;
        while (k + 1 <= n / 2 && CoverageOf(n, k + 1) >= Confidence)
        {
            k++;
        }

        Low = _sorted[k - 1];
        High = _sorted[n - k];
        Coverage = CoverageOf(n, k);
    }

    public string Pairs { get; }

    public int Count => _sorted.Length;

    public double Median { get; }

    public double Low { get; }

    public double High { get; }

    /// <summary>The probability that [<see cref="Low"/>, <see cref="High"/>] holds the true median ratio (no meaning for fewer than two pairs).</summary>
    public double Coverage { get; }

    /// <summary>The interval for a table cell: <c>0.80–0.95</c>, <c>0.80–0.95, range</c> when it is the whole range of too few pairs, empty for one pair.</summary>
    public string CellInterval => Count < 2
        ? string.Empty
        : string.Create(s_culture, $"{Low:0.00}–{High:0.00}{(Coverage < Confidence ? ", range" : string.Empty)}");

    /// <summary>The median with its interval in words, for the targets.</summary>
    public string Describe() => Count switch
    {
        0 => "not measured",
        1 => string.Create(s_culture, $"{Median:0.00}× (1 paired {Pairs.TrimEnd('s')}, no interval)"),
        _ => string.Create(
            s_culture,
            $"{Median:0.00}× ({(Coverage >= Confidence ? "95 % interval" : $"range, covers the median with {Coverage:P0}")} {Low:0.00}–{High:0.00}×, {Count} paired {Pairs})"),
    };

    /// <summary>P(x₍ₖ₎ ≤ median ≤ x₍ₙ₊₁₋ₖ₎) = 1 − 2·P(Binomial(n, ½) ≤ k − 1).</summary>
    private static double CoverageOf(int n, int k)
    {
        double term = Math.Pow(0.5, n);
        double tail = 0;
        for (int i = 0; i < k; i++)
        {
            tail += term;
            term = term * (n - i) / (i + 1);
        }

        return 1 - (2 * tail);
    }
}
