using System.ComponentModel.DataAnnotations;
using Vireo.Messaging;

namespace Vireo.Sink;

/// <summary>Settings of the Kafka → Postgres sink (section "Sink").</summary>
public sealed class SinkOptions : ConsumerRetryOptions
{
    public const string Section = "Sink";

    [Required]
    public string GroupId { get; set; } = "vireo-sink";

    /// <summary>Most records written in one transaction.</summary>
    [Range(1, 10_000)]
    public int MaxBatch { get; set; } = 500;

    /// <summary>Longest a record waits for its batch to fill, in milliseconds.</summary>
    [Range(1, 10_000)]
    public int MaxWaitMs { get; set; } = 100;

    /// <summary>
    /// Furthest a status's sequence may run ahead of the video's stored one. A video grain numbers its statuses one by
    /// one, so a larger jump is a forged or corrupt record, which would otherwise freeze the video; it is dead-lettered.
    /// </summary>
    [Range(10, 1_000_000)]
    public int MaxSequenceStep { get; set; } = 10_000;

    /// <summary>Frame indexes at or past this are impossible (Pipeline:MaxFramesLimit is at most 100,000); such records are dead-lettered.</summary>
    [Range(1, 10_000_000)]
    public int MaxFrameIndex { get; set; } = 100_000;
}
