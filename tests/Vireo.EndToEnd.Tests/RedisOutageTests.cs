using Vireo.Messaging;
using Vireo.Testing;

namespace Vireo.EndToEnd.Tests;

/// <summary>
/// The silos keep their membership, grain state and reminders in a Redis of this test's own, which is killed (SIGKILL)
/// in the middle of a video and started again. The ingest consumer's poll interval is cut to its least, so that an
/// upload that arrives during the outage has to wait longer than it.
/// </summary>
public sealed class RedisOutageTests : IAsyncLifetime
{
    private PrivateRedis _redis = null!;
    private PipelineCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _redis = await PrivateRedis.StartAsync();
        _cluster = await PipelineCluster.StartAsync([("media", "media"), ("gpu", "vision,language")],
            ("ConnectionStrings__Redis", _redis.ConnectionString), ("Pipeline__FramesInFlight", "1"), ("Workers__VisionMaxWaitMs", "300"),
            ("Kafka__MaxPollIntervalMs", PollIntervalMs.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("Ingest__MaxRetryDelayMs", "1000"));
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
            await _cluster.DisposeAsync();
        if (_redis is not null)
            await _redis.DisposeAsync();
    }

    private const int PollIntervalMs = 10_000;

    [Fact]
    public async Task AVideoWhoseStateStoreDiesMidwayAndOneUploadedDuringTheOutageCompleteWithEveryFrameOnce()
    {
        var path = await Clips.MakeAsync("outage.mp4", 10);
        await _cluster.UploadAsync("video-outage", _cluster.AddMedia(path));
        await _cluster.FirstRecordAsync(VireoTopics.FramesAnalyzed, (key, _) => key == "e2e/video-outage", TimeSpan.FromMinutes(2));

        _redis.Kill();
        // Its grain cannot load its state until Redis is back: the hand-off is retried for longer than the poll interval.
        await _cluster.UploadAsync("video-in-outage", _cluster.AddMedia(path));
        await Task.Delay(TimeSpan.FromMilliseconds(PollIntervalMs * 1.5));
        await _redis.StartAgainAsync();

        foreach (var video in new[] { "video-outage", "video-in-outage" })
        {
            Assert.Equal("completed", await _cluster.WaitFinishedAsync(video, TimeSpan.FromMinutes(4)));
            var expected = await Clips.SampledIndexesAsync(path, 2);
            Assert.Equal(expected, await _cluster.ListAsync<int>("select frame_index from frames where video_id = $1 order by frame_index", video));
        }
        var media = _cluster.Logs("media");
        Assert.DoesNotContain("could not be marked failed", media);
        Assert.Contains("Handing an upload to its video grain failed", media);
        // The consumer stayed in its group through the retries: its partitions were never taken away.
        Assert.DoesNotContain("Revoked", media);
    }
}
