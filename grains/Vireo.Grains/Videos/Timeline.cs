using Vireo.Messaging;

namespace Vireo.Grains.Videos;

/// <summary>Builds a video's timeline: consecutive frames with the same content merge into one segment.</summary>
public static class Timeline
{
    public static VideoResult Build(IReadOnlyList<FrameSummary> frames, double durationSeconds)
    {
        var ordered = frames.OrderBy(f => f.Index).ToArray();
        var segments = new List<TimelineSegment>();
        var start = 0;
        for (var i = 1; i <= ordered.Length; i++)
        {
            if (i < ordered.Length && SameContent(ordered[i], ordered[start]))
                continue;
            var first = ordered[start];
            var last = ordered[i - 1];
            var end = i < ordered.Length ? ordered[i].TimestampSeconds : Math.Max(durationSeconds, last.TimestampSeconds);
            var texts = ordered[start..i].Select(f => f.Text).Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
            segments.Add(new TimelineSegment(first.TimestampSeconds, end, first.Index, last.Index, first.Caption, texts));
            start = i;
        }
        return new VideoResult
        {
            Segments = segments,
            Texts = ordered.Select(f => f.Text).Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToArray(),
            Frames = ordered.Length,
            TokensBefore = ordered.Sum(f => (long)f.TokensBefore),
            TokensAfter = ordered.Sum(f => (long)f.TokensAfter),
            DurationSeconds = durationSeconds,
        };
    }

    private static bool SameContent(FrameSummary a, FrameSummary b) =>
        string.Equals(a.Caption, b.Caption, StringComparison.Ordinal) && string.Equals(a.Text, b.Text, StringComparison.Ordinal);
}
