using Confluent.Kafka;
using System.Text;
using Vireo.Messaging;
using Vireo.Testing;

namespace Vireo.EndToEnd.Tests;

/// <summary>
/// Two silo processes, one with the media role and one with the vision and language roles, plus the sink: videos
/// go in as Kafka events and come out as Postgres rows.
/// </summary>
[Collection(PipelineCollection.Name)]
public sealed class PipelineTests(PipelineFixture fixture)
{
    private readonly PipelineCluster _cluster = fixture.Cluster;

    [Fact]
    public async Task ThreeVideosAtOnceEndWithEverySampledFrameStoredExactlyOnceAndTwoTenantsShareAnId()
    {
        var clips = await Task.WhenAll(
            Clips.MakeAsync("a.mp4", 3, "testsrc2"),
            Clips.MakeAsync("b.mp4", 2.5, "smptehdbars"),
            Clips.MakeAsync("c.mp4", 2, "mandelbrot"));
        // Two tenants use the same video id for different clips: each gets its own analysis and its own rows.
        var videos = new[] { new VideoKey("e2e", "video-a"), new VideoKey("globex", "video-a"), new VideoKey("e2e", "video-c") };
        for (var i = 0; i < 3; i++)
            await _cluster.UploadAsync(videos[i].VideoId, _cluster.AddMedia(clips[i]), tenant: videos[i].TenantId);

        for (var i = 0; i < 3; i++)
        {
            var (tenant, id) = videos[i];
            Assert.Equal("completed", await _cluster.WaitFinishedAsync(id, TimeSpan.FromMinutes(4), tenant));
            var expected = await Clips.SampledIndexesAsync(clips[i], 2);
            var stored = await _cluster.ListAsync<int>("select frame_index from frames where tenant_id = $1 and video_id = $2 order by frame_index", tenant, id);
            Assert.Equal(expected, stored);
            Assert.Equal((long)expected.Count, await _cluster.QueryAsync<int>("select frames from videos where tenant_id = $1 and video_id = $2", tenant, id));
            Assert.EndsWith(Path.GetFileName(clips[i]), await _cluster.QueryAsync<string>("select source from videos where tenant_id = $1 and video_id = $2", tenant, id));
            Assert.True(await _cluster.QueryAsync<long>("select count(*) from segments where tenant_id = $1 and video_id = $2", tenant, id) >= 1);
            Assert.Equal((long)expected.Count, await _cluster.QueryAsync<long>(
                "select count(distinct frame_index) from frame_tiles where tenant_id = $1 and video_id = $2", tenant, id));
        }

        // The work ran where the roles say: decoding on the media silo, the model on the other one.
        var placements = await _cluster.ListAsync<string>("select distinct media_silo || '|' || vision_silo || '|' || language_silo from frames");
        Assert.Equal(["media|gpu|gpu"], placements);
        // Each silo loads what its roles need: the GPU silo both sides of the model, the media silo no model and no libtorch.
        Assert.Contains("Loaded the vision side", _cluster.Logs("gpu"));
        Assert.Contains("Loaded the language side", _cluster.Logs("gpu"));
        Assert.Contains("libtorch", _cluster.MappedLibraries("gpu"));
        Assert.DoesNotContain("Loaded the", _cluster.Logs("media"));
        Assert.DoesNotContain("libtorch", _cluster.MappedLibraries("media"));
    }

    [Fact]
    public async Task TheSameUploadTwiceChangesNothing()
    {
        var clip = _cluster.AddMedia(await Clips.MakeAsync("twice.mp4", 2));
        await _cluster.UploadAsync("video-twice", clip);
        await _cluster.UploadAsync("video-twice", clip);
        Assert.Equal("completed", await _cluster.WaitFinishedAsync("video-twice", TimeSpan.FromMinutes(3)));
        await _cluster.UploadAsync("video-twice", clip);

        var expected = await Clips.SampledIndexesAsync(Path.Combine(_cluster.MediaRoot, clip), 2);
        await Eventually.WaitAsync(async () => _cluster.ReadTopic(VireoTopics.VideoStatus, TimeSpan.FromSeconds(3))
                .Count(r => r.Key == "e2e/video-twice" && r.Value.Contains("\"state\":\"accepted\"")),
            n => n == 1, TimeSpan.FromSeconds(30), "exactly one acceptance");
        var completions = _cluster.ReadTopic(VireoTopics.VideoStatus, TimeSpan.FromSeconds(2))
            .Count(r => r.Key == "e2e/video-twice" && r.Value.Contains("\"state\":\"completed\""));
        Assert.Equal(1, completions);
        Assert.Equal(expected, await _cluster.ListAsync<int>("select frame_index from frames where video_id = $1 order by frame_index", "video-twice"));
    }

    [Fact]
    public async Task BadEventsEndAsDeadLettersOrFailuresAndTheConsumerGoesOn()
    {
        var notVideo = Path.Combine(_cluster.MediaRoot, "notes.mp4");
        await File.WriteAllTextAsync(notVideo, "this is a text file, not a video\n");
        var corrupt = Path.Combine(_cluster.MediaRoot, "corrupt.mp4");
        var good = await File.ReadAllBytesAsync(await Clips.MakeAsync("whole.mp4", 2));
        await File.WriteAllBytesAsync(corrupt, good[..(good.Length / 3)]);
        // Its index first, then cut in half: it probes well and breaks off midway, with frames in flight.
        var whole = await File.ReadAllBytesAsync(await Clips.MakeAsync("faststart.mp4", 8, faststart: true));
        await File.WriteAllBytesAsync(Path.Combine(_cluster.MediaRoot, "halved.mp4"), whole[..(whole.Length / 2)]);

        await _cluster.Publisher.PublishRawAsync(VireoTopics.VideoUploaded, "junk", Encoding.UTF8.GetBytes("{not json"));
        await _cluster.Publisher.PublishRawAsync(VireoTopics.VideoUploaded, "v9", Encoding.UTF8.GetBytes(
            """{"version":9,"videoId":"v9","tenantId":"e2e","source":"x.mp4"}"""));
        // Headers come from whoever wrote the record: a trace header without a value is no trace context.
        await _cluster.Publisher.PublishRawAsync(VireoTopics.VideoUploaded, "untraced", Encoding.UTF8.GetBytes("{not json"),
            new Headers { { "traceparent", null }, { "tracestate", null } });
        await _cluster.UploadAsync("outside", "../../etc/passwd");
        await _cluster.UploadAsync("missing", "nowhere.mp4");
        await _cluster.UploadAsync("not-a-video", "notes.mp4");
        await _cluster.UploadAsync("corrupt", "corrupt.mp4");
        await _cluster.UploadAsync("halved", "halved.mp4");
        await _cluster.UploadAsync("url", "http://example.com/clip.mp4");
        var clip = _cluster.AddMedia(await Clips.MakeAsync("after.mp4", 1.5));
        await _cluster.UploadAsync("after-the-bad-ones", clip);

        Assert.Equal("completed", await _cluster.WaitFinishedAsync("after-the-bad-ones", TimeSpan.FromMinutes(3)));
        foreach (var (video, reason) in new[]
        {
            ("outside", "outside the media root"),
            ("missing", "does not exist"),
            ("not-a-video", "NotAVideo"),
            ("corrupt", ""),
            ("url", "URL sources are turned off"),
        })
        {
            Assert.Equal("failed", await _cluster.WaitFinishedAsync(video, TimeSpan.FromMinutes(1)));
            Assert.Contains(reason, await _cluster.QueryAsync<string>("select reason from videos where video_id = $1", video));
        }

        // The halved video ends failed, and that is its last status: no frame still in flight reopened it.
        Assert.Equal("failed", await _cluster.WaitFinishedAsync("halved", TimeSpan.FromMinutes(2)));
        var halved = _cluster.ReadTopic(VireoTopics.VideoStatus, TimeSpan.FromSeconds(3)).Where(r => r.Key == "e2e/halved").Select(r => r.Value).ToList();
        Assert.Contains("\"state\":\"failed\"", halved[^1]);
        Assert.Single(halved, v => v.Contains("\"state\":\"failed\""));
        Assert.Equal("failed", await _cluster.QueryAsync<string>("select state from videos where video_id = $1", "halved"));

        var letters = _cluster.ReadTopic(VireoTopics.DeadLetter, TimeSpan.FromSeconds(3));
        Assert.Contains(letters, l => l.Key == "junk" && l.Value.Contains("malformed JSON"));
        Assert.Contains(letters, l => l.Key == "v9" && l.Value.Contains("unsupported version 9"));
        Assert.Contains(letters, l => l.Key == "untraced" && l.Value.Contains("malformed JSON"));
    }
}
