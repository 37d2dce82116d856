namespace Vireo.Model.Inference;

/// <summary>
/// The answer format the model is trained to produce and the pipeline reads back:
/// "red circle top-left; blue square right. text: AB12", with "none" when the frame carries no text.
/// </summary>
/// <param name="Caption">What the frame shows.</param>
/// <param name="Text">The text read in the frame; null when there is none.</param>
public sealed record ModelAnswer(string Caption, string? Text)
{
    private const string TextMarker = ". text: ";
    private const string NoText = "none";
    private const string ShapeSeparator = "; ";

    /// <summary>The caption of a frame without a known shape.</summary>
    public const string NoShapes = "no shapes";

    /// <summary>The shapes the caption names, one phrase each ("red circle top-left"); none for <see cref="NoShapes"/>.</summary>
    public IReadOnlyList<string> Shapes => Caption == NoShapes ? [] : Caption.Split(ShapeSeparator);

    /// <summary>The caption naming <paramref name="shapes"/>, or <see cref="NoShapes"/> when there are none.</summary>
    public static string CaptionOf(IEnumerable<string> shapes) => string.Join(ShapeSeparator, shapes) is { Length: > 0 } caption ? caption : NoShapes;

    /// <summary>The answer as the model writes it.</summary>
    public string Format() => $"{Caption}{TextMarker}{Text ?? NoText}";

    /// <summary>Where the text field of generated text begins (after the last text marker), or -1 without a marker.</summary>
    public static int TextFieldStart(string answer)
    {
        var i = answer.LastIndexOf(TextMarker, StringComparison.Ordinal);
        return i < 0 ? -1 : i + TextMarker.Length;
    }

    /// <summary>
    /// Generated text as it is reported at a text threshold: with its text field "none" when the text was read with a
    /// confidence below <paramref name="threshold"/>, else unchanged (a null confidence is never below).
    /// </summary>
    public static string AtTextThreshold(string answer, double? confidence, double threshold) =>
        confidence < threshold && Parse(answer) is { Text: not null } unsure ? (unsure with { Text = null }).Format() : answer;

    /// <summary>
    /// Where each shape phrase of generated text lies (start, end), in the order of <see cref="Shapes"/>; none when the
    /// caption is <see cref="NoShapes"/>.
    /// </summary>
    public static IReadOnlyList<(int Start, int End)> ShapeSpans(string answer)
    {
        var end = answer.LastIndexOf(TextMarker, StringComparison.Ordinal) is var i and >= 0 ? i : answer.Length;
        var spans = new List<(int, int)>();
        if (Parse(answer).Caption == NoShapes) return spans;
        var start = 0;
        while (start <= end)
        {
            var next = answer.IndexOf(ShapeSeparator, start, end - start, StringComparison.Ordinal);
            var stop = next < 0 ? end : next;
            spans.Add((start, stop));
            start = stop + ShapeSeparator.Length;
        }
        return spans;
    }

    /// <summary>
    /// Generated text as it is reported at a shape threshold: without the shapes named with a confidence below
    /// <paramref name="threshold"/> (one per shape, as <see cref="ShapeSpans"/> orders them), and <see cref="NoShapes"/>
    /// when none is left. Unchanged when the confidences do not match the shapes.
    /// </summary>
    public static string AtShapeThreshold(string answer, IReadOnlyList<double>? confidences, double threshold)
    {
        var parsed = Parse(answer);
        var shapes = parsed.Shapes;
        if (confidences is null || confidences.Count != shapes.Count || confidences.All(c => c >= threshold)) return answer;
        return (parsed with { Caption = CaptionOf(shapes.Where((_, k) => confidences[k] >= threshold)) }).Format();
    }

    /// <summary>
    /// Splits generated text into caption and text ("none" → null). Tolerant of malformed output: without the marker
    /// the whole output is the caption.
    /// </summary>
    public static ModelAnswer Parse(string answer)
    {
        var i = answer.LastIndexOf(TextMarker, StringComparison.Ordinal);
        if (i < 0) return new ModelAnswer(answer.Trim(), null);
        var text = answer[(i + TextMarker.Length)..].Trim();
        return new ModelAnswer(answer[..i].Trim(), text == NoText ? null : text);
    }
}
