namespace Vireo.Grains;

/// <summary>A video to analyse, as the ingest consumer resolved it: the source is a checked local path or URL.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.VideoJob")]
public sealed record VideoJob(
    [property: Id(0)] string VideoId,
    [property: Id(1)] string TenantId,
    [property: Id(2)] string SourcePath,
    [property: Id(3)] string SourceLabel,
    [property: Id(4)] AnalysisSettings Settings,
    [property: Id(5)] string? TraceParent)
{
    public VideoKey Key => new(TenantId, VideoId);
}

/// <summary>Analysis settings after defaults and limits were applied to the client's request.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.AnalysisSettings")]
public sealed record AnalysisSettings(
    [property: Id(0)] double Fps,
    [property: Id(1)] double? SceneThreshold,
    [property: Id(2)] bool Keyframes,
    [property: Id(3)] int? DedupDistance,
    [property: Id(4)] int MaxFrames,
    [property: Id(5)] int MinTiles,
    [property: Id(6)] int MaxTiles,
    [property: Id(7)] RoutingMode Routing,
    [property: Id(8)] double? RouterThreshold,
    [property: Id(9)] string? Prompt = null,
    [property: Id(10)] double? TextThreshold = null,
    [property: Id(11)] double? ShapeThreshold = null);

/// <summary>What the video grain said to a submission.</summary>
[GenerateSerializer, Alias("Vireo.SubmitOutcome")]
public enum SubmitOutcome
{
    /// <summary>A new video; its job is saved and work has started.</summary>
    Accepted,
    /// <summary>The video is known (in progress or done); nothing changed.</summary>
    AlreadyKnown,
    /// <summary>A retry restarted a failed or stalled video from its last checkpoint.</summary>
    Restarted,
    /// <summary>A new video refused at the door: recorded as failed, with its reason.</summary>
    Refused,
}

/// <summary>A sampled frame on its way to a vision worker, with the routing its video asked for; VideoId is the video's key.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.FrameRequest")]
public sealed record FrameRequest(
    [property: Id(0)] string VideoId,
    [property: Id(1)] int FrameIndex,
    [property: Id(2)] int Width,
    [property: Id(3)] int Height,
    [property: Id(4)] byte[] Rgb,
    [property: Id(5)] int MinTiles,
    [property: Id(6)] int MaxTiles,
    [property: Id(7)] RoutingMode Routing,
    [property: Id(8)] double? RouterThreshold,
    [property: Id(9)] string? Question = null,
    [property: Id(10)] double? TextThreshold = null,
    [property: Id(11)] double? ShapeThreshold = null);

/// <summary>
/// The vision half's result for a frame: the router's decisions and the visual tokens for the language model, as
/// bfloat16 bits (the dtype a real model computes them in).
/// </summary>
[GenerateSerializer, Immutable, Alias("Vireo.VisionResult")]
public sealed record VisionResult(
    [property: Id(0)] IReadOnlyList<TileDecision> Tiles,
    [property: Id(1)] int TokensBefore,
    [property: Id(2)] int TokensAfter,
    [property: Id(3)] ushort[] VisualTokens,
    [property: Id(4)] double VisionMs,
    [property: Id(5)] ModelIdentity? Model = null);

/// <summary>A frame's visual tokens (bfloat16 bits) on their way from a vision worker to a language worker.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.LanguageRequest")]
public sealed record LanguageRequest(
    [property: Id(0)] string VideoId,
    [property: Id(1)] int FrameIndex,
    [property: Id(2)] IReadOnlyList<bool> CompressedTiles,
    [property: Id(3)] ushort[] VisualTokens,
    [property: Id(4)] string? Question = null,
    [property: Id(5)] double? TextThreshold = null,
    [property: Id(6)] double? ShapeThreshold = null);

/// <summary>
/// What the language model wrote for a frame, and how sure it was of the text it read (0 to 1, before the model's text
/// threshold; null for a model whose answers have no text field).
/// </summary>
[GenerateSerializer, Immutable, Alias("Vireo.LanguageResult")]
public sealed record LanguageResult(
    [property: Id(0)] string Caption,
    [property: Id(1)] string Text,
    [property: Id(2)] double LanguageMs,
    [property: Id(3)] string Silo,
    [property: Id(4)] ModelIdentity? Model = null,
    [property: Id(5)] double? TextConfidence = null);

/// <summary>A frame's whole analysis as the video grain receives it; the visual tokens stayed between the workers.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.FrameAnalysis")]
public sealed record FrameAnalysis(
    [property: Id(0)] IReadOnlyList<TileDecision> Tiles,
    [property: Id(1)] int TokensBefore,
    [property: Id(2)] int TokensAfter,
    [property: Id(3)] double VisionMs,
    [property: Id(4)] string VisionSilo,
    [property: Id(5)] LanguageResult Language,
    [property: Id(6)] ModelIdentity? VisionModel = null);
