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
