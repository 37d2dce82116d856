using Orleans.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Vireo.Grains.Videos;
using Vireo.Messaging;

namespace Vireo.Grains.Tests;

public sealed class VideoTallyTests
{
    private static FrameSummary F(int i, string caption, string text = "") => new(i, i * 0.5, caption, text, 1280, 640);

    [Fact]
    public void ConsecutiveFramesWithTheSameContentFormOneSegmentClosedByTheNextContent()
    {
        var tally = new VideoTally();
        var closed = new[] { F(0, "red circle", "AB"), F(1, "red circle", "AB"), F(2, "red circle", "AB"), F(3, "blue square"), F(4, "red circle", "AB") }
            .Select(tally.Add).Where(s => s is not null).Select(s => s!).ToList();
        var (last, result) = tally.Finish(3.0);
        closed.Add(last!);
        // Finishing changes nothing: a final status built again from the checkpoint is the same.
        var (again, resultAgain) = tally.Finish(3.0);
        Assert.Equal((last!.FirstFrame, last.EndSeconds, resultAgain.Segments, resultAgain.Frames), (again!.FirstFrame, again.EndSeconds, result.Segments, result.Frames));

        Assert.Equal(3, closed.Count);
        Assert.Equal((0.0, 1.5, 0, 2), (closed[0].StartSeconds, closed[0].EndSeconds, closed[0].FirstFrame, closed[0].LastFrame));
        Assert.Equal(["AB"], closed[0].Texts);
        Assert.Equal(("blue square", 1.5, 2.0), (closed[1].Caption, closed[1].StartSeconds, closed[1].EndSeconds));
        Assert.Empty(closed[1].Texts);
        Assert.Equal(3.0, closed[2].EndSeconds);
        Assert.Equal((3, 5), (result.Segments, result.Frames));
        Assert.Equal(["AB"], result.Texts);
        Assert.Equal(5 * 1280L, result.TokensBefore);
        Assert.Equal(5 * 640L, result.TokensAfter);
    }

    [Fact]
    public void AnEmptyVideoHasAnEmptyTimeline()
    {
        var (last, result) = new VideoTally().Finish(4.0);
        Assert.Null(last);
        Assert.Equal((0, 0), (result.Segments, result.Frames));
    }

    [Fact]
    public void DistinctTextsAreBoundedAndTheRestCounted()
    {
        var tally = new VideoTally();
        for (var i = 0; i < VideoResult.TextsLimit + 10; i++)
            tally.Add(F(i, "sign", $"text {i}"));
        tally.Add(F(VideoResult.TextsLimit + 10, "sign", "text 0"));
        var (_, result) = tally.Finish(1000);
        Assert.Equal(VideoResult.TextsLimit, result.Texts.Count);
        Assert.Equal(10, result.TextsOmitted);
        Assert.Equal("text 0", result.Texts[0]);
    }

    [Fact]
    public void TheCheckpointedStateIsTheSameSizeAtFrameTenAndAtFrameTwentyThousand()
    {
        using var services = new ServiceCollection().AddSerializer(s => s.AddAssembly(typeof(VideoGrainState).Assembly)).BuildServiceProvider();
        var serializer = services.GetRequiredService<Serializer>();
        var state = new VideoGrainState
        {
            Job = new VideoJob("v", "t", "a.mp4", "a.mp4", new AnalysisSettings(2, null, false, null, 20_000, 1, 4, RoutingMode.Auto, null), null),
            State = VideoState.Processing,
        };
        int SizeAfter(int frames)
        {
            for (var i = state.Tally.Frames; i < frames; i++)
            {
                // A new segment every third frame and a text that repeats: the shape of a long, busy video.
                state.Tally.Add(new FrameSummary(i, i * 0.5, $"caption {i / 3 % 7}", $"word {i % 5}", 1280, 640));
                state.LastFrameIndex = i;
            }
            return serializer.SerializeToArray(state).Length;
        }

        var early = SizeAfter(10);
        var late = SizeAfter(20_000);
        Assert.InRange(late, early - 16, early + 16);
    }
}
