using System.Globalization;
using System.Text;

namespace Vireo.Model.Training.Evaluation;

/// <summary>
/// Chooses the text and shape thresholds (config.json's <c>vireo.text_threshold</c> and <c>vireo.shape_threshold</c>) on
/// frames of the training side: for each, the threshold, in steps of <see cref="Step"/>, at which the model gets the
/// most answers right there (text fields for the text threshold, captions for the shape threshold), the highest of
/// equals. A threshold gains where it silences a made-up answer and loses where it silences a right one. The held-out
/// sets take no part, so what the thresholds do to them is measured, not fitted.
/// </summary>
public static class ThresholdCalibration
{
    /// <summary>The thresholds tried are multiples of this, from 0 to 1 - <see cref="Step"/>.</summary>
    public const double Step = 0.05;

    /// <summary>The text threshold that gets the most text fields of <paramref name="rows"/> right ("none" on frames without text included).</summary>
    public static double ChooseText(IEnumerable<EvalRow> rows) => Choose(rows, (o, t) => o.AtTextThreshold(t).TextCorrect);

    /// <summary>The shape threshold that gets the most captions of <paramref name="rows"/> right ("no shapes" on frames without any included).</summary>
    public static double ChooseShapes(IEnumerable<EvalRow> rows) => Choose(rows, (o, t) => o.AtShapeThreshold(t).CaptionCorrect);

    private static double Choose(IEnumerable<EvalRow> rows, Func<FrameOutcome, double, bool> rightAt)
    {
        var frames = rows.SelectMany(r => r.Frames).ToList();
        if (frames.Count == 0) return 0;
        return Enumerable.Range(0, (int)Math.Round(1 / Step))
            .Select(i => Math.Round(i * Step, 2))
            .Select(t => (Threshold: t, Right: frames.Count(o => rightAt(o, t))))
            .OrderByDescending(c => c.Right).ThenByDescending(c => c.Threshold)
            .First().Threshold;
    }

    /// <summary>Texts read exactly at threshold 0 that <paramref name="threshold"/> turns into "none".</summary>
    public static int ReadsLost(EvalRow row, double threshold) =>
        row.Frames.Count(o => o.Sample.Text is not null && o.TextCorrect && !o.AtTextThreshold(threshold).TextCorrect);

    /// <summary>Captions right at threshold 0 that the shape threshold <paramref name="threshold"/> makes wrong.</summary>
    public static int CaptionsLost(EvalRow row, double threshold) =>
        row.Frames.Count(o => o.CaptionCorrect && !o.AtShapeThreshold(threshold).CaptionCorrect);

    /// <summary>
    /// What each threshold from 0 to 0.9, and the chosen ones, do to each row: for text, false text, exact words and
    /// reads lost; for shapes, false shapes, captions and captions lost.
    /// </summary>
    public static string Sweep(IReadOnlyList<EvalRow> rows, double chosenText, double chosenShapes)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        void Table(string what, double chosen, string[] columns, Func<EvalRow, double, string> cells)
        {
            sb.Append(string.Create(ci, $"{what,-10}"));
            foreach (var r in rows) sb.Append(" | ").AppendJoin(' ', columns.Select((c, k) => k == 0 ? $"{r.Mode + " " + c,18}" : $"{c,7}"));
            sb.AppendLine();
            foreach (var t in Enumerable.Range(0, 10).Select(i => i / 10.0).Append(chosen).Distinct().Order())
            {
                sb.Append(string.Create(ci, $"{t.ToString("F2", ci) + (t == chosen ? " *" : ""),-10}"));
                foreach (var r in rows) sb.Append(" | ").Append(cells(r, t));
                sb.AppendLine();
            }
        }
        Table("text", chosenText, ["false text", "large", "small", "lost"], (r, t) =>
        {
            var at = r.AtTextThreshold(t);
            return string.Create(ci, $"{at.FalseTextRate,18:P1} {at.LargeTextAccuracy,7:P1} {at.SmallTextAccuracy,7:P1} {ReadsLost(r, t),7}");
        });
        sb.AppendLine("(false text: frames without text where some is reported; large, small: words read exactly; lost: exact reads the threshold turns into none)");
        Table("shapes", chosenShapes, ["false shapes", "caption", "lost"], (r, t) =>
        {
            var at = r.AtShapeThreshold(t);
            return string.Create(ci, $"{at.FalseShapeRate,18:P1} {at.CaptionAccuracy,7:P1} {CaptionsLost(r, t),7}");
        });
        sb.AppendLine("(false shapes: frames without a known shape where some is named; caption: captions exactly right; lost: right captions the threshold breaks; * chosen)");
        return sb.ToString();
    }
}
