namespace Vireo.Media;

/// <summary>Why a frame was kept; a frame can have several reasons.</summary>
[Flags]
public enum FrameReasons
{
    None = 0,
    /// <summary>The first decoded frame of the video (always kept).</summary>
    First = 1,
    /// <summary>The first frame at or after a point of the fixed-rate grid (k / fps seconds).</summary>
    Interval = 2,
    /// <summary>ffmpeg's scene score against the previous decoded frame exceeded the threshold.</summary>
    SceneChange = 4,
    /// <summary>The frame is a keyframe (intra-coded, independently decodable).</summary>
    Keyframe = 8,
    /// <summary>No selective rule is set, so every decoded frame is kept.</summary>
    EveryFrame = 16,
}

/// <summary>
/// Which frames to keep. The rules combine: a frame is kept when it is the first frame or any enabled rule
/// (fixed rate, scene change, keyframe) selects it; when no rule is enabled every frame is kept. Near-duplicates
/// of the last kept frame are then dropped if <see cref="DedupMaxDistance"/> is set, and sampling stops once
/// <see cref="MaxFrames"/> frames were kept.
/// </summary>
public sealed record SamplingPolicy
{
    /// <summary>Keep the first frame at or after each multiple of 1/fps seconds; null disables.</summary>
    public double? FramesPerSecond { get; init; }

    /// <summary>Keep frames whose ffmpeg scene score (0..1) exceeds this; null disables. 0.3 is a usual cut threshold.</summary>
    public double? SceneThreshold { get; init; }

    /// <summary>Keep keyframes.</summary>
    public bool Keyframes { get; init; }

    /// <summary>
    /// Drop a frame whose 64-bit perceptual hash is within this Hamming distance of the last kept frame's
    /// (the first frame is never dropped); null disables. 0 drops only identical hashes; 4 to 8 is typical.
    /// </summary>
    public int? DedupMaxDistance { get; init; }

    /// <summary>Stop after this many kept frames; null means no budget.</summary>
    public int? MaxFrames { get; init; }

    /// <summary>Every decoded frame.</summary>
    public static SamplingPolicy EveryFrame { get; } = new();

    /// <summary>A fixed rate in frames per second.</summary>
    public static SamplingPolicy FixedRate(double framesPerSecond) => new() { FramesPerSecond = framesPerSecond };

    /// <summary>Scene changes above a threshold.</summary>
    public static SamplingPolicy SceneChanges(double threshold = 0.3) => new() { SceneThreshold = threshold };

    /// <summary>Keyframes only.</summary>
    public static SamplingPolicy KeyframesOnly { get; } = new() { Keyframes = true };

    /// <summary>True when no selective rule is set, so every frame is kept.</summary>
    public bool KeepsEveryFrame => FramesPerSecond is null && SceneThreshold is null && !Keyframes;

    /// <summary>Throws <see cref="ArgumentException"/> when a value breaks <see cref="AnalysisLimits"/>.</summary>
    public void Validate()
    {
        var problem = (FramesPerSecond is { } fps ? fps > 0 ? AnalysisLimits.CheckFps(fps) : "fps must be greater than 0 when set" : null)
            ?? (SceneThreshold is { } t ? AnalysisLimits.CheckSceneThreshold(t) : null)
            ?? (DedupMaxDistance is { } d ? AnalysisLimits.CheckDedupDistance(d) : null)
            ?? (MaxFrames is { } m ? AnalysisLimits.CheckMaxFrames(m) : null);
        if (problem is not null)
            throw new ArgumentException(problem);
    }
}
