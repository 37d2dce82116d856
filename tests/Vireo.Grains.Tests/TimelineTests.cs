using Vireo.Grains.Videos;

namespace Vireo.Grains.Tests;

public sealed class TimelineTests
{
    private static FrameSummary F(int i, string caption, string text = "") => new(i, i * 0.5, caption, text, 1280, 640);

    [Fact]
    public void ConsecutiveFramesWithTheSameContentMergeIntoOneSegment()
    {
        var result = Timeline.Build([F(2, "red circle", "AB"), F(0, "red circle", "AB"), F(1, "red circle", "AB"), F(3, "blue square"), F(4, "red circle", "AB")], 3.0);
        Assert.Equal(3, result.Segments.Count);
        Assert.Equal((0.0, 1.5, 0, 2), (result.Segments[0].StartSeconds, result.Segments[0].EndSeconds, result.Segments[0].FirstFrame, result.Segments[0].LastFrame));
        Assert.Equal(("blue square", 1.5, 2.0), (result.Segments[1].Caption, result.Segments[1].StartSeconds, result.Segments[1].EndSeconds));
        Assert.Equal(3.0, result.Segments[2].EndSeconds);
        Assert.Equal(["AB"], result.Texts);
        Assert.Equal(5 * 1280L, result.TokensBefore);
        Assert.Equal(5 * 640L, result.TokensAfter);
    }

    [Fact]
    public void AnEmptyVideoHasAnEmptyTimeline()
    {
        var result = Timeline.Build([], 4.0);
        Assert.Empty(result.Segments);
        Assert.Equal(0, result.Frames);
    }
}
