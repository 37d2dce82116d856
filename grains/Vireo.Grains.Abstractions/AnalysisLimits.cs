namespace Vireo;

/// <summary>
/// The one definition of what a client may ask of an analysis. The upload event's decoder, the sampler and any
/// other entry point check values against these rules, so a value accepted at the door never fails later.
/// </summary>
public static class AnalysisLimits
{
    public const double MaxFps = 60;
    public const int MaxDedupDistance = 64;
    public const int MaxFrames = 100_000;
    public const int MaxTiles = 40;
    public const int MaxPromptLength = 1000;

    /// <summary>Fixed-rate sampling: 0 turns it off, otherwise up to <see cref="MaxFps"/> frames a second.</summary>
    public static string? CheckFps(double fps) =>
        double.IsFinite(fps) && fps is >= 0 and <= MaxFps ? null : $"fps must be a number between 0 and {MaxFps}";

    /// <summary>A scene score threshold strictly between 0 (every frame) and 1 (no frame).</summary>
    public static string? CheckSceneThreshold(double threshold) =>
        double.IsFinite(threshold) && threshold is > 0 and < 1 ? null : "sceneThreshold must be a number greater than 0 and less than 1";

    public static string? CheckDedupDistance(int distance) =>
        distance is >= 0 and <= MaxDedupDistance ? null : $"dedupDistance must be between 0 and {MaxDedupDistance}";

    public static string? CheckMaxFrames(int frames) =>
        frames is >= 1 and <= MaxFrames ? null : $"maxFrames must be between 1 and {MaxFrames}";

    public static string? CheckTiles(int? minTiles, int? maxTiles)
    {
        if (minTiles is < 1 or > MaxTiles) return $"minTiles must be between 1 and {MaxTiles}";
        if (maxTiles is < 1 or > MaxTiles) return $"maxTiles must be between 1 and {MaxTiles}";
        return minTiles > maxTiles ? "minTiles must not exceed maxTiles" : null;
    }

    /// <summary>A tile is compressed when its probability reaches the threshold, a number from 0 to 1.</summary>
    public static string? CheckRouterThreshold(double threshold) =>
        double.IsFinite(threshold) && threshold is >= 0 and <= 1 ? null : "routerThreshold must be a number between 0 and 1";

    /// <summary>
    /// A confidence below which the model's text or shapes are not reported: at least 0 (report everything) and below 1,
    /// as the model's own thresholds in config.json.
    /// </summary>
    public static string? CheckReportThreshold(string name, double threshold) =>
        double.IsFinite(threshold) && threshold is >= 0 and < 1 ? null : $"{name} must be a number at least 0 and below 1";

    /// <summary>
    /// The question asked about every frame: 1 to <see cref="MaxPromptLength"/> characters of text, not blank, with
    /// no control characters but line breaks and tabs, and none of the chat template's own markers.
    /// </summary>
    public static string? CheckPrompt(string prompt)
    {
        if (string.IsNullOrWhiteSpace(prompt) || prompt.Length > MaxPromptLength)
            return $"prompt must be 1 to {MaxPromptLength} characters and not blank";
        if (prompt.Any(c => char.IsControl(c) && c is not '\n' and not '\t') || !IsWellFormed(prompt))
            return "prompt must be text without control characters";
        return prompt.Contains("<|", StringComparison.Ordinal) || prompt.Contains("<img>", StringComparison.Ordinal)
            || prompt.Contains("</img>", StringComparison.Ordinal) || prompt.Contains("<IMG_CONTEXT>", StringComparison.Ordinal)
            ? "prompt must not contain the chat template's markers (<|...|>, <img>, </img>, <IMG_CONTEXT>)"
            : null;
    }

    private static bool IsWellFormed(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(text[i])) return false;
        }
        return true;
    }
}
