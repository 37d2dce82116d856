using Vireo.Messaging;
using Vireo.Testing;

namespace Vireo.EndToEnd.Tests;

/// <summary>
/// The silos keep their membership, grain state and reminders in a Redis of this test's own, which is killed (SIGKILL)
/// in the middle of a video and started again.
/// </summary>
public sealed class RedisOutageTests : IAsyncLifetime
{
    private PrivateRedis _redis = null!;
    private PipelineCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _redis = await PrivateRedis.StartAsync();
        _cluster = await PipelineCluster.StartAsync([("media", "media"), ("gpu", "vision,language")],
            ("ConnectionStrings__Redis", _redis.ConnectionString), ("Pipeline__FramesInFlight", "1"), ("Workers__VisionMaxWaitMs", "300"));
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
            await _cluster.DisposeAsync();
        if (_redis is not null)
            await _redis.DisposeAsync();
    }

    [Fact]
    public async Task AVideoWhoseStateStoreDiesMidwayCompletesWithEveryFrameOnce()
    {
        var path = await Clips.MakeAsync("outage.mp4", 10);
        await _cluster.UploadAsync("video-outage", _cluster.AddMedia(path));
        await _cluster.FirstRecordAsync(VireoTopics.FramesAnalyzed, (key, _) => key == "e2e/video-outage", TimeSpan.FromMinutes(2));

        _redis.Kill();
        await Task.Delay(TimeSpan.FromSeconds(4));
        await _redis.StartAgainAsync();

        Assert.Equal("completed", await _cluster.WaitFinishedAsync("video-outage", TimeSpan.FromMinutes(4)));
        var expected = await Clips.SampledIndexesAsync(path, 2);
        Assert.Equal(expected, await _cluster.ListAsync<int>("select frame_index from frames where video_id = $1 order by frame_index", "video-outage"));
        Assert.DoesNotContain("could not be marked failed", _cluster.Logs("media"));
    }
}
