using System.Text.Json;
using Vireo.Messaging;
using Vireo.Testing;

namespace Vireo.EndToEnd.Tests;

/// <summary>Two silos that can both do everything; the one running a video's grain is killed in the middle.</summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private PipelineCluster _cluster = null!;

    // One frame in flight, and a vision batch that waits for company, pace the video at a few frames a second
    // however fast the machine, so the kill lands in the middle of it.
    public async Task InitializeAsync() =>
        _cluster = await PipelineCluster.StartAsync([("one", "media,vision,language"), ("two", "media,vision,language")],
            ("Pipeline__FramesInFlight", "1"), ("Workers__VisionMaxWaitMs", "400"));

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
            await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task KillingTheSiloOfAVideoMidwayLosesAndDuplicatesNoFrame()
    {
        var path = await Clips.MakeAsync("long.mp4", 12);
        await _cluster.UploadAsync("video-failover", _cluster.AddMedia(path));

        // The first frame result on Kafka names the silo that runs the video's grain.
        var first = await _cluster.FirstRecordAsync(VireoTopics.FramesAnalyzed, (key, _) => key == "e2e/video-failover", TimeSpan.FromMinutes(2));
        var host = JsonDocument.Parse(first).RootElement.GetProperty("placement").GetProperty("media").GetString()!;
        _cluster.Kill(host);
        var before = _cluster.ReadTopic(VireoTopics.FramesAnalyzed, TimeSpan.FromSeconds(1)).Count(r => r.Key == "e2e/video-failover");
        var survivor = host == "one" ? "two" : "one";

        Assert.Equal("completed", await _cluster.WaitFinishedAsync("video-failover", TimeSpan.FromMinutes(4)));
        var expected = await Clips.SampledIndexesAsync(path, 2);
        Assert.True(before < expected.Count, $"the silo was killed after the video finished ({before} of {expected.Count} frames published)");
        Assert.Equal(expected, await _cluster.ListAsync<int>("select frame_index from frames where video_id = $1 order by frame_index", "video-failover"));
        Assert.Contains(survivor, await _cluster.ListAsync<string>("select distinct media_silo from frames where video_id = $1", "video-failover"));
        Assert.Contains("Resuming video e2e/video-failover", _cluster.Logs(survivor));
    }
}
