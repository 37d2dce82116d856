using Vireo.Messaging;

namespace Vireo.Grains.Videos;

/// <summary>
/// What a video grain has finished, checkpointed after every frame. Its size does not grow with the video: it holds
/// the cursor, running totals, the open timeline segment and a bounded set of distinct texts, while each frame's
/// result and each closed segment live in Kafka and Postgres.
/// </summary>
[GenerateSerializer, Alias("Vireo.VideoGrainState")]
public sealed class VideoGrainState
{
    [Id(0)] public VideoJob? Job { get; set; }
    [Id(1)] public VideoState State { get; set; }

    /// <summary>Sequence number of the last status event published; the next one is larger.</summary>
    [Id(2)] public long Sequence { get; set; }

    [Id(4)] public string? Reason { get; set; }
    [Id(5)] public int? FramesExpected { get; set; }
    [Id(6)] public double DurationSeconds { get; set; }

    /// <summary>Where a URL source was downloaded to.</summary>
    [Id(7)] public string? DownloadedPath { get; set; }

    /// <summary>Index of the last frame whose result was published; frames are published in index order.</summary>
    [Id(8)] public int LastFrameIndex { get; set; } = -1;

    [Id(9)] public VideoTally Tally { get; set; } = new();

    /// <summary>1 for the first run, one more for each retry of a failed video.</summary>
    [Id(10)] public int Attempt { get; set; } = 1;

    public bool IsFinished => State is VideoState.Completed or VideoState.Failed;
}

/// <summary>The part of a finished frame that the video-level result needs.</summary>
public readonly record struct FrameSummary(int Index, double TimestampSeconds, string Caption, string Text, int TokensBefore, int TokensAfter);

/// <summary>
/// Running totals of a video and its timeline, built one frame at a time: consecutive frames with the same caption
/// and text form a segment, which is handed out as soon as a frame with other content closes it.
/// </summary>
[GenerateSerializer, Alias("Vireo.VideoTally")]
public sealed class VideoTally
{
    [Id(0)] public int Frames { get; set; }
    [Id(1)] public long TokensBefore { get; set; }
    [Id(2)] public long TokensAfter { get; set; }
    [Id(3)] public int SegmentsClosed { get; set; }
    [Id(4)] public OpenSegment? Open { get; set; }

    /// <summary>Distinct texts in order of first appearance, at most <see cref="VideoResult.TextsLimit"/>.</summary>
    [Id(5)] public List<string> Texts { get; set; } = [];

    [Id(6)] public int TextsOmitted { get; set; }

    /// <summary>Adds the next frame (frames arrive in index order) and returns the segment it closed, if any.</summary>
    public TimelineSegment? Add(FrameSummary frame)
    {
        Frames++;
        TokensBefore += frame.TokensBefore;
        TokensAfter += frame.TokensAfter;
        if (frame.Text.Length > 0 && !Texts.Contains(frame.Text, StringComparer.Ordinal))
        {
            if (Texts.Count < VideoResult.TextsLimit) Texts.Add(frame.Text);
            else TextsOmitted++;
        }
        if (Open is { } open && string.Equals(open.Caption, frame.Caption, StringComparison.Ordinal) && string.Equals(open.Text, frame.Text, StringComparison.Ordinal))
        {
            open.LastFrame = frame.Index;
            open.LastSeconds = frame.TimestampSeconds;
            return null;
        }
        var closed = Open is null ? null : Close(Open, frame.TimestampSeconds);
        Open = new OpenSegment { StartSeconds = frame.TimestampSeconds, FirstFrame = frame.Index, LastFrame = frame.Index, LastSeconds = frame.TimestampSeconds, Caption = frame.Caption, Text = frame.Text };
        return closed;
    }

    /// <summary>
    /// The last segment, closed at the end of the video (its declared duration, or its last frame where that is later
    /// or none was declared), and the video-level result. The tally is left as it is, so a
    /// completed video's final status can be built again, the same, from its checkpoint.
    /// </summary>
    public (TimelineSegment? Last, VideoResult Result) Finish(double durationSeconds)
    {
        // A video that declared no duration (0) lasts, as far as is known, until its last frame.
        durationSeconds = Math.Max(durationSeconds, Open?.LastSeconds ?? 0);
        var last = Open is null ? null : Segment(Open, durationSeconds);
        return (last, new VideoResult
        {
            Segments = SegmentsClosed + (last is null ? 0 : 1),
            Texts = Texts.ToArray(),
            TextsOmitted = TextsOmitted,
            Frames = Frames,
            TokensBefore = TokensBefore,
            TokensAfter = TokensAfter,
            DurationSeconds = durationSeconds,
        });
    }

    private TimelineSegment Close(OpenSegment open, double endSeconds)
    {
        SegmentsClosed++;
        return Segment(open, endSeconds);
    }

    private static TimelineSegment Segment(OpenSegment open, double endSeconds) =>
        new(open.StartSeconds, endSeconds, open.FirstFrame, open.LastFrame, open.Caption, open.Text.Length > 0 ? [open.Text] : []);
}

/// <summary>The timeline segment still growing.</summary>
[GenerateSerializer, Alias("Vireo.OpenSegment")]
public sealed class OpenSegment
{
    [Id(0)] public double StartSeconds { get; set; }
    [Id(1)] public int FirstFrame { get; set; }
    [Id(2)] public int LastFrame { get; set; }
    [Id(3)] public string Caption { get; set; } = "";
    [Id(4)] public string Text { get; set; } = "";
    [Id(5)] public double LastSeconds { get; set; }
}
