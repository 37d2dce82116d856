using System.Globalization;
using System.Text;

namespace Vireo.Model.Training.Evaluation;

/// <summary>
/// Chooses the text threshold (config.json's <c>vireo.text_threshold</c>) on frames of the training side: the highest
/// threshold, in steps of <see cref="Step"/>, that costs none of the texts the model reads exactly there. The held-out
/// sets take no part, so what the threshold does to them is measured, not fitted.
/// </summary>
public static class TextCalibration
{
    /// <summary>The thresholds tried are multiples of this.</summary>
    public const double Step = 0.05;

    /// <summary>
    /// The largest multiple of <see cref="Step"/> at or below the confidence of every text read exactly in
    /// <paramref name="rows"/>, at most 1 - <see cref="Step"/>; 0 when nothing was read exactly.
    /// </summary>
    public static double Choose(IEnumerable<EvalRow> rows)
    {
        var read = rows.SelectMany(r => r.Frames)
            .Where(o => o.Sample.Text is not null && o.TextCorrect && o.TextConfidence is not null)
            .Select(o => o.TextConfidence!.Value)
            .ToList();
        if (read.Count == 0) return 0;
        var least = read.Min();
        var threshold = Math.Round(Math.Floor(least / Step) * Step, 2);
        if (threshold > least) threshold = Math.Round(threshold - Step, 2);
        return Math.Clamp(threshold, 0, 1 - Step);
    }

    /// <summary>Texts read exactly at threshold 0 that <paramref name="threshold"/> turns into "none".</summary>
    public static int ReadsLost(EvalRow row, double threshold) =>
        row.Frames.Count(o => o.Sample.Text is not null && o.TextCorrect && !o.AtTextThreshold(threshold).TextCorrect);

    /// <summary>What each threshold from 0 to 0.9, and the chosen one, does to each row: false text, exact words, reads lost.</summary>
    public static string Sweep(IReadOnlyList<EvalRow> rows, double chosen)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(string.Create(ci, $"{"threshold",-10}"));
        foreach (var r in rows) sb.Append(string.Create(ci, $" | {r.Mode + " false text",18} {"large",7} {"small",7} {"lost",5}"));
        sb.AppendLine();
        var thresholds = Enumerable.Range(0, 10).Select(i => i / 10.0).Append(chosen).Distinct().Order();
        foreach (var t in thresholds)
        {
            sb.Append(string.Create(ci, $"{t.ToString("F2", ci) + (t == chosen ? " *" : ""),-10}"));
            foreach (var r in rows)
            {
                var at = r.AtTextThreshold(t);
                sb.Append(string.Create(ci, $" | {at.FalseTextRate,18:P1} {at.LargeTextAccuracy,7:P1} {at.SmallTextAccuracy,7:P1} {ReadsLost(r, t),5}"));
            }
            sb.AppendLine();
        }
        sb.AppendLine("(false text: frames without text where some is reported; large, small: words read exactly; lost: exact reads the threshold turns into none; * chosen)");
        return sb.ToString();
    }
}
