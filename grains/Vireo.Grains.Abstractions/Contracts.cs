using Vireo.Messaging;

namespace Vireo.Grains;

/// <summary>A video to analyse, as the ingest consumer resolved it: the source is a checked local path.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.VideoJob")]
public sealed record VideoJob(
    [property: Id(0)] string VideoId,
    [property: Id(1)] string TenantId,
    [property: Id(2)] string SourcePath,
    [property: Id(3)] string SourceLabel,
    [property: Id(4)] AnalysisSettings Settings,
    [property: Id(5)] string? TraceParent);

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
    [property: Id(8)] double? RouterThreshold);

/// <summary>What the video grain said to a submission.</summary>
[GenerateSerializer, Alias("Vireo.SubmitOutcome")]
public enum SubmitOutcome
{
    /// <summary>A new video; work has started.</summary>
    Accepted,
    /// <summary>The video is known (in progress or done); nothing changed.</summary>
    AlreadyKnown,
}

/// <summary>A frame on its way to a vision worker.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.VisionRequest")]
public sealed record VisionRequest(
    [property: Id(0)] string VideoId,
    [property: Id(1)] int FrameIndex,
    [property: Id(2)] int Width,
    [property: Id(3)] int Height,
    [property: Id(4)] byte[] Rgb,
    [property: Id(5)] int MinTiles,
    [property: Id(6)] int MaxTiles,
    [property: Id(7)] RoutingMode Routing,
    [property: Id(8)] double? RouterThreshold);

/// <summary>The router's decision for one tile.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.TileDecision")]
public sealed record TileDecision(
    [property: Id(0)] int Tile,
    [property: Id(1)] bool Compressed,
    [property: Id(2)] double Probability,
    [property: Id(3)] int Tokens)
{
    public TileRouting ToEvent() => new(Tile, Compressed, Probability, Tokens);
}

/// <summary>The router's decisions and the visual tokens of a frame, ready for the language model.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.VisionResult")]
public sealed record VisionResult(
    [property: Id(0)] IReadOnlyList<TileDecision> Tiles,
    [property: Id(1)] int TokensBefore,
    [property: Id(2)] int TokensAfter,
    [property: Id(3)] Half[] VisualTokens,
    [property: Id(4)] double VisionMs,
    [property: Id(5)] string Silo);

/// <summary>A frame's visual tokens on their way to a language worker.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.LanguageRequest")]
public sealed record LanguageRequest(
    [property: Id(0)] string VideoId,
    [property: Id(1)] int FrameIndex,
    [property: Id(2)] IReadOnlyList<bool> CompressedTiles,
    [property: Id(3)] Half[] VisualTokens);

/// <summary>What the language model wrote for a frame.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.LanguageResult")]
public sealed record LanguageResult(
    [property: Id(0)] string Caption,
    [property: Id(1)] string Text,
    [property: Id(2)] double LanguageMs,
    [property: Id(3)] string Silo);

/// <summary>Progress of one video, as its grain knows it.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.VideoProgress")]
public sealed record VideoProgress(
    [property: Id(0)] VideoState State,
    [property: Id(1)] int FramesDone,
    [property: Id(2)] string? Reason,
    [property: Id(3)] string Silo);
