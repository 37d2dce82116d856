using Vireo.Testing;

namespace Vireo.EndToEnd.Tests;

/// <summary>Two silos that can both do everything; the one running a video's grain is killed in the middle.</summary>
public sealed class FailoverTests : IAsyncLifetime
{
    private PipelineCluster _cluster = null!;

    public async Task InitializeAsync() =>
        _cluster = await PipelineCluster.StartAsync(("one", "media,vision,language"), ("two", "media,vision,language"));

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task KillingTheSiloOfAVideoMidwayLosesAndDuplicatesNoFrame()
    {
        var path = await Clips.MakeAsync("long.mp4", 8);
        await _cluster.UploadAsync("video-failover", _cluster.AddMedia(path));

        var host = await Eventually.WaitAsync(
            () => _cluster.QueryAsync<string?>("select media_silo from frames where video_id = $1 limit 1", "video-failover"),
            silo => silo is not null, TimeSpan.FromMinutes(2), "the first frame stored");
        var before = await _cluster.QueryAsync<long>("select count(*) from frames where video_id = $1", "video-failover");
        _cluster.Kill(host!);
        var survivor = host == "one" ? "two" : "one";

        Assert.Equal("completed", await _cluster.WaitFinishedAsync("video-failover", TimeSpan.FromMinutes(4)));
        var expected = await Clips.SampledIndexesAsync(path, 2);
        Assert.True(before < expected.Count, $"the silo was killed after the video finished ({before} of {expected.Count} frames)");
        Assert.Equal(expected, await _cluster.ListAsync<int>("select frame_index from frames where video_id = $1 order by frame_index", "video-failover"));
        Assert.Contains(survivor, await _cluster.ListAsync<string>("select distinct media_silo from frames where video_id = $1", "video-failover"));
        Assert.Contains("Resuming video video-failover", _cluster.Logs(survivor));
    }
}
