namespace Vireo.Messaging;

/// <summary>A Kafka topic of the pipeline and the number of partitions it is created with.</summary>
public sealed record TopicSpec(string Name, int Partitions);

/// <summary>The pipeline's topics. Events of one video share a key (its id), so they stay in one partition and in order.</summary>
public static class VireoTopics
{
    public const string VideoUploaded = "video.uploaded";
    public const string FramesAnalyzed = "video.frames.analyzed";
    public const string VideoStatus = "video.status";
    public const string DeadLetter = "video.deadletter";

    /// <summary>Every topic with its partition count; the dev broker creates exactly these.</summary>
    public static IReadOnlyList<TopicSpec> All { get; } =
    [
        new(VideoUploaded, 6),
        new(FramesAnalyzed, 12),
        new(VideoStatus, 6),
        new(DeadLetter, 1),
    ];
}
