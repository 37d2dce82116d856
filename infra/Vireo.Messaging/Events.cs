using System.Text.Json;
using System.Text.Json.Serialization;

namespace Vireo.Messaging;

/// <summary>How frames are chosen from a video. Unset fields take the service's defaults.</summary>
public sealed record SamplingRequest
{
    /// <summary>Frames per second to keep at fixed intervals; 0 turns fixed-rate sampling off.</summary>
    public double? Fps { get; init; }

    /// <summary>Keep a frame where ffmpeg's scene score exceeds this value (0–1); unset turns scene detection off.</summary>
    public double? SceneThreshold { get; init; }

    /// <summary>Keep keyframes.</summary>
    public bool? Keyframes { get; init; }

    /// <summary>Drop a frame whose perceptual hash is within this Hamming distance of the last kept one.</summary>
    public int? DedupDistance { get; init; }

    /// <summary>Upper bound on kept frames.</summary>
    public int? MaxFrames { get; init; }
}

/// <summary>Options a client can set for one video.</summary>
public sealed record AnalysisRequestOptions
{
    public SamplingRequest? Sampling { get; init; }
    public int? MinTiles { get; init; }
    public int? MaxTiles { get; init; }
    public RoutingMode? Routing { get; init; }

    /// <summary>Router threshold: a tile is compressed when its probability of "compress" is at least this.</summary>
    public double? RouterThreshold { get; init; }

    /// <summary>
    /// The least text confidence at which a text read is reported for this video, from 0 (every reading) to below 1;
    /// unset keeps the model's own (config.json's <c>vireo.text_threshold</c>).
    /// </summary>
    public double? TextThreshold { get; init; }

    /// <summary>
    /// The least confidence at which a shape named is reported for this video, from 0 (every shape) to below 1; unset
    /// keeps the model's own (config.json's <c>vireo.shape_threshold</c>).
    /// </summary>
    public double? ShapeThreshold { get; init; }

    /// <summary>
    /// The question the model answers about every frame (see <see cref="AnalysisLimits.CheckPrompt"/>); unset asks for
    /// a short description of the frame and a transcription of any text in it. The shipped small model answers its
    /// one fixed question whatever is asked.
    /// </summary>
    public string? Prompt { get; init; }
}

/// <summary>A video was uploaded and should be analysed. Topic <see cref="VireoTopics.VideoUploaded"/>, keyed by <see cref="Key"/>.</summary>
public sealed record VideoUploaded
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;
    public required string VideoId { get; init; }
    public required string TenantId { get; init; }

    /// <summary>The video this event is about; its text form keys the event's Kafka record.</summary>
    [JsonIgnore]
    public VideoKey Key => new(TenantId, VideoId);

    /// <summary>A path under the configured media root, or an http(s) URL where configuration allows URLs.</summary>
    public required string Source { get; init; }

    public AnalysisRequestOptions? Options { get; init; }
    public DateTimeOffset? SubmittedAt { get; init; }

    /// <summary>
    /// Asks to restart a known video that failed (as a new attempt) or stopped making progress, from its last
    /// checkpoint with its original source and options. A running or completed video is left as it is.
    /// </summary>
    public bool Retry { get; init; }
}

/// <summary>Milliseconds spent on a frame per stage.</summary>
public sealed record StageTimings(double DecodeMs, double VisionMs, double LanguageMs);

/// <summary>Which silo did each part of a frame's work.</summary>
public sealed record WorkPlacement(string Media, string Vision, string Language);

/// <summary>The model that computed a frame: its vision side (tiles and router decisions) and its language side (caption and text).</summary>
public sealed record FrameModel(ModelIdentity? Vision, ModelIdentity? Language);

/// <summary>One analysed frame. Topic <see cref="VireoTopics.FramesAnalyzed"/>, keyed by <see cref="Key"/>; unique by (tenant, video, frameIndex).</summary>
public sealed record FrameAnalyzed
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;
    public required string VideoId { get; init; }
    public required string TenantId { get; init; }

    /// <summary>The video this event is about; its text form keys the event's Kafka record.</summary>
    [JsonIgnore]
    public VideoKey Key => new(TenantId, VideoId);
    public required int FrameIndex { get; init; }
    public required double TimestampSeconds { get; init; }

    /// <summary>Why the sampler kept the frame (interval, scene change, keyframe...).</summary>
    public required string Reasons { get; init; }

    public required string Caption { get; init; }
    public required string Text { get; init; }

    /// <summary>
    /// How sure the model was of the text it read, from 0 to 1, before its text threshold turned a less sure reading into
    /// no text; absent for models whose answers have no text field and from silos that did not say.
    /// </summary>
    public double? TextConfidence { get; init; }

    public required IReadOnlyList<TileDecision> Tiles { get; init; }
    public required int TokensBefore { get; init; }
    public required int TokensAfter { get; init; }
    public required StageTimings Timings { get; init; }
    public WorkPlacement? Placement { get; init; }

    /// <summary>Which model computed the frame; absent from events of silos that did not say.</summary>
    public FrameModel? Model { get; init; }
}

/// <summary>
/// The video-level result, produced after the last frame. The timeline's segments travel one by one, each on the
/// status event published when it closed (<see cref="VideoStatusChanged.Segment"/>), so the result stays small
/// however long the video is.
/// </summary>
public sealed record VideoResult
{
    /// <summary>Most distinct texts a result lists.</summary>
    public const int TextsLimit = 256;

    public required int Segments { get; init; }

    /// <summary>Distinct texts found, in order of first appearance, at most <see cref="TextsLimit"/> of them.</summary>
    public required IReadOnlyList<string> Texts { get; init; }

    /// <summary>How many more distinct texts were found than <see cref="Texts"/> holds.</summary>
    public int TextsOmitted { get; init; }
    public required int Frames { get; init; }
    public required long TokensBefore { get; init; }
    public required long TokensAfter { get; init; }
    public required double DurationSeconds { get; init; }
}

/// <summary>
/// A video's state changed. Topic <see cref="VireoTopics.VideoStatus"/>, keyed by <see cref="Key"/>. <see cref="Sequence"/> grows with
/// every event of a video, so a consumer that sees an older or repeated event can ignore it.
/// </summary>
public sealed record VideoStatusChanged
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;
    public required string VideoId { get; init; }
    public required string TenantId { get; init; }

    /// <summary>The video this event is about; its text form keys the event's Kafka record.</summary>
    [JsonIgnore]
    public VideoKey Key => new(TenantId, VideoId);
    public required VideoState State { get; init; }
    public required long Sequence { get; init; }

    /// <summary>
    /// Which run of the video this is: 1 for the first, one more for each retry. A final state (completed or
    /// failed) is only ever replaced by a status of a later attempt.
    /// </summary>
    public int Attempt { get; init; } = 1;
    public string? Source { get; init; }
    public int FramesDone { get; init; }
    public int? FramesExpected { get; init; }
    public double Progress { get; init; }

    /// <summary>Why the video failed, for <see cref="VideoState.Failed"/>.</summary>
    public string? Reason { get; init; }

    /// <summary>A timeline segment that closed with this event; segments are unique by (tenant, video, first frame).</summary>
    public TimelineSegment? Segment { get; init; }

    public VideoResult? Result { get; init; }
    public DateTimeOffset At { get; init; }

    /// <summary>Room a record needs besides its value: its key (two ids of at most 128 characters), headers and framing.</summary>
    public const int RecordOverheadBytes = 2048;

    /// <summary>
    /// This status with its result's texts cut from the end until its record fits in <paramref name="maxRecordBytes"/>
    /// (Kafka:MaxRecordBytes): a video's last word must reach the broker whatever its texts are, and the texts cut are
    /// counted in <see cref="VideoResult.TextsOmitted"/>. A status that fits comes back as it is.
    /// </summary>
    public VideoStatusChanged FittedTo(int maxRecordBytes)
    {
        var budget = maxRecordBytes - RecordOverheadBytes;
        if (Result is not { Texts.Count: > 0 } result || EventCodec.Serialize(this).Length <= budget)
            return this;
        VideoStatusChanged Keeping(int count) => this with
        {
            Result = result with { Texts = result.Texts.Take(count).ToArray(), TextsOmitted = result.TextsOmitted + result.Texts.Count - count },
        };
        // The most texts that fit, by bisection: keeping `fits` is assumed to fit, keeping `over` does not.
        var (fits, over) = (0, result.Texts.Count);
        while (over - fits > 1)
        {
            var middle = (fits + over) / 2;
            if (EventCodec.Serialize(Keeping(middle)).Length <= budget) fits = middle;
            else over = middle;
        }
        return Keeping(fits);
    }
}

/// <summary>A record that could not be processed, with the reason and where it came from. Topic <see cref="VireoTopics.DeadLetter"/>.</summary>
public sealed record DeadLetter
{
    public required string SourceTopic { get; init; }
    public required int Partition { get; init; }
    public required long Offset { get; init; }
    public string? Key { get; init; }
    public required string Reason { get; init; }

    /// <summary>The start of the payload as text, for inspection.</summary>
    public required string Payload { get; init; }
    public DateTimeOffset At { get; init; }
}

// A null where the type has none, or a positional member left out, is a malformed event, not a NullReferenceException
// in whatever reads it later.
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(VideoUploaded))]
[JsonSerializable(typeof(FrameAnalyzed))]
[JsonSerializable(typeof(VideoStatusChanged))]
[JsonSerializable(typeof(DeadLetter))]
[JsonSerializable(typeof(VideoResult))]
[JsonSerializable(typeof(IReadOnlyList<TileDecision>))]
[JsonSerializable(typeof(FrameModel))]
public sealed partial class VireoJsonContext : JsonSerializerContext;
