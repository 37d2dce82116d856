using Vireo.Messaging;

namespace Vireo.Grains.Videos;

/// <summary>What a video grain has finished, checkpointed after every frame.</summary>
[GenerateSerializer, Alias("Vireo.VideoGrainState")]
public sealed class VideoGrainState
{
    [Id(0)] public VideoJob? Job { get; set; }
    [Id(1)] public VideoState State { get; set; }

    /// <summary>Sequence number of the last status event published; the next one is larger.</summary>
    [Id(2)] public long Sequence { get; set; }

    /// <summary>Finished frames in index order.</summary>
    [Id(3)] public List<FrameSummary> Frames { get; set; } = [];

    [Id(4)] public string? Reason { get; set; }
    [Id(5)] public int? FramesExpected { get; set; }
    [Id(6)] public double DurationSeconds { get; set; }

    /// <summary>Where a URL source was downloaded to.</summary>
    [Id(7)] public string? DownloadedPath { get; set; }

    public bool IsFinished => State is VideoState.Completed or VideoState.Failed;
}

/// <summary>The part of a finished frame that the video-level result needs.</summary>
[GenerateSerializer, Immutable, Alias("Vireo.FrameSummary")]
public sealed record FrameSummary(
    [property: Id(0)] int Index,
    [property: Id(1)] double TimestampSeconds,
    [property: Id(2)] string Caption,
    [property: Id(3)] string Text,
    [property: Id(4)] int TokensBefore,
    [property: Id(5)] int TokensAfter);
