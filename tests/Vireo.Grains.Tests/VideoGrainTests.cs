using Vireo.Model.Inference;
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Core.Internal;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Serialization;
using Orleans.Storage;
using Orleans.TestingHost;
using Vireo.Grains.Ingest;
using Vireo.Blobs;
using Vireo.Grains.Placement;
using Vireo.Grains.Thumbnails;
using Vireo.Grains.Videos;
using Vireo.Grains.Workers;
using Vireo.Media;
using Vireo.Messaging;
using Vireo.Testing;

namespace Vireo.Grains.Tests;

/// <summary>
/// The video grain in an in-process Orleans cluster with every silo role, fake media and fake model engines, so its
/// own logic (acceptance, checkpoints, resumption, retries, failure) is tested in seconds.
/// </summary>
public sealed class VideoGrainTests(VideoGrainCluster fixture) : IClassFixture<VideoGrainCluster>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly FakeWorld _world = VideoGrainCluster.World;

    private IVideoGrain Grain(string id) => fixture.Cluster.GrainFactory.GetGrain<IVideoGrain>(new VideoKey("acme", id).ToString());

    private VideoJob Job(string id, int frames)
    {
        _world.Frames[id] = frames;
        File.WriteAllBytes(Path.Combine(_world.MediaRoot, id), [0]);
        return new VideoJob(id, "acme", id, id, new AnalysisSettings(2, null, false, null, 10_000, 1, 2, RoutingMode.Auto, null), null);
    }

    [Fact]
    public async Task ASubmittedVideoPublishesEveryFrameOnceInOrderThenCompletes()
    {
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-ok").Submit(Job("v-ok", 12)));
        var done = await _world.WaitFinishedAsync("v-ok", Deadline);

        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal(Enumerable.Range(0, 12), _world.FramesOf("v-ok"));
        Assert.Equal(12, done.Result!.Frames);
        Assert.Equal(12L * 2 * 256, done.Result.TokensBefore);
        var states = _world.StatusesOf("v-ok");
        Assert.Equal(VideoState.Accepted, states[0].State);
        Assert.True(states.Zip(states.Skip(1)).All(p => p.First.Sequence < p.Second.Sequence));
        // The fake captions change every fourth frame: three segments, each on the event that closed it.
        Assert.Equal([0, 4, 8], states.Where(s => s.Segment is not null).Select(s => s.Segment!.FirstFrame));
        // Each frame names the models that computed it, its vision side and its language side.
        Assert.All(_world.FrameEventsOf("v-ok"), f => Assert.Equal(("fake-vision", "fake-language"), (f.Model?.Vision?.Name, f.Model?.Language?.Name)));
        // And how sure the language side was of the frame's text.
        Assert.All(_world.FrameEventsOf("v-ok"), f => Assert.Equal(FakeWorld.TextConfidence(f.FrameIndex), f.TextConfidence));
    }

    [Fact]
    public async Task AVideoThatDeclaresNoDurationRunsWithNoFrameCountExpectedAndLastsToItsLastFrame()
    {
        var job = Job("v-live", 7);
        _world.NoDuration["v-live"] = true;
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-live").Submit(job));
        var done = await _world.WaitFinishedAsync("v-live", Deadline);

        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal(Enumerable.Range(0, 7), _world.FramesOf("v-live"));
        // Nothing to count progress against while it ran, rather than 0 frames expected; the count once it is done.
        Assert.All(_world.StatusesOf("v-live").Where(s => s.State == VideoState.Processing), s => Assert.Null(s.FramesExpected));
        Assert.Equal(7, done.FramesExpected);
        // Frames come every 0.5 s: the last at 3 s.
        Assert.Equal(3.0, done.Result!.DurationSeconds);
    }

    [Fact]
    public async Task AUrlSourceIsDownloadedAnalysedAndItsDownloadDeletedOnceTheVideoIsDone()
    {
        using var server = new OneShotHttp("downloaded video bytes");
        // The fakes name a video by its file name: the download of acme/v-url is acme+v-url.video.
        _world.Frames["acme+v-url.video"] = 4;
        var job = new VideoJob("v-url", "acme", $"http://localhost:{server.Port}/clip.mp4", "v-url", new AnalysisSettings(2, null, false, null, 10_000, 1, 2, RoutingMode.Auto, null), null);

        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-url").Submit(job));
        var done = await _world.WaitFinishedAsync("v-url", Deadline);

        await server.Served;
        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal(Enumerable.Range(0, 4), _world.FramesOf("v-url"));
        Assert.False(File.Exists(Path.Combine(_world.MediaRoot, "downloads", "acme+v-url.video")), "the download outlived its video");
    }

    [Fact]
    public async Task DecodingLongerThanTheStallTimeWithoutAFrameIsNoStallWhileTheDecoderReportsProgress()
    {
        // Pipeline:StallSeconds is 6 here: a run that publishes nothing that long is stopped and started again, and
        // the same gap would then stop it every time.
        _world.DecodeGapAt["v-sparse"] = (2, TimeSpan.FromSeconds(8));
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-sparse").Submit(Job("v-sparse", 4)));

        var done = await _world.WaitFinishedAsync("v-sparse", Deadline);

        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal(Enumerable.Range(0, 4), _world.FramesOf("v-sparse"));
        Assert.Equal(1, _world.StatusesOf("v-sparse").Count(s => s.State == VideoState.Accepted));
    }

    [Fact]
    public async Task AFinalStatusThatCannotBePublishedAtFirstIsPublishedOnceTheBrokerTakesIt()
    {
        // Saved, then refused by the broker three times: nothing would publish it again later.
        _world.FailStatusPublishes[("v-unheard", VideoState.Completed)] = 3;
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-unheard").Submit(Job("v-unheard", 4)));

        var done = await _world.WaitFinishedAsync("v-unheard", Deadline);

        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal(4, done.Result!.Frames);
        Assert.Equal(0, _world.FailStatusPublishes[("v-unheard", VideoState.Completed)]);
    }

    [Fact]
    public async Task AFinalStatusStillUnpublishedWhenItsGrainDeactivatesIsPublishedByItsReminder()
    {
        // The broker refuses the completion while the grain is deactivated (a silo redeployed), which ends the
        // retries of that activation.
        _world.FailStatusPublishes[("v-orphan", VideoState.Completed)] = 5;
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-orphan").Submit(Job("v-orphan", 5)));
        await Eventually.UntilAsync(() => _world.FailStatusPublishes[("v-orphan", VideoState.Completed)] < 5, Deadline, "a refused completion");
        await Grain("v-orphan").Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var done = await _world.WaitFinishedAsync("v-orphan", Deadline);

        Assert.Equal(VideoState.Completed, done.State);
        // As first built: the result, and the last segment (frame 4, the fake captions change every fourth frame).
        Assert.Equal((5, 2), (done.Result!.Frames, done.Result.Segments));
        Assert.Equal((4, 4), (done.Segment!.FirstFrame, done.Segment.LastFrame));
        Assert.Single(_world.StatusesOf("v-orphan"), s => s.State == VideoState.Completed);
    }

    [Fact]
    public async Task ARefusalTheBrokerDoesNotTakeAtFirstIsPublishedLater()
    {
        _world.FailStatusPublishes[("v-door-shut", VideoState.Failed)] = 2;
        var job = Job("v-door-shut", 3);
        var grain = Grain("v-door-shut");

        await Assert.ThrowsAnyAsync<Exception>(() => grain.Refuse(job, "the media root is not mounted"));
        // The ingest consumer hands the upload over again: the refusal is saved, and the grain says so.
        Assert.Equal(SubmitOutcome.AlreadyKnown, await grain.Refuse(job, "the media root is not mounted"));

        var refused = await _world.WaitFinishedAsync("v-door-shut", Deadline);
        Assert.Equal((VideoState.Failed, 1, "the media root is not mounted"), (refused.State, refused.Attempt, refused.Reason));
    }

    [Fact]
    public async Task AResultWithMoreTextThanOneRecordHoldsCompletesListingTheFirstTextsAndCountingTheRest()
    {
        // 40 distinct texts of 1,000 characters, each escaped to 6 bytes in JSON: far past the 64 KiB record.
        _world.LongTexts["v-wordy"] = 1_000;
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-wordy").Submit(Job("v-wordy", 40)));

        var done = await _world.WaitFinishedAsync("v-wordy", Deadline);

        Assert.Equal(VideoState.Completed, done.State);
        var result = done.Result!;
        Assert.Equal(40, result.Frames);
        Assert.InRange(result.Texts.Count, 1, 39);
        Assert.Equal(40, result.Texts.Count + result.TextsOmitted);
        Assert.Equal(Enumerable.Range(0, result.Texts.Count).Select(i => $"{i}:"), result.Texts.Select(t => t[..t.IndexOf(':', StringComparison.Ordinal)] + ":"));
        Assert.True(EventCodec.Serialize(done).Length + VideoStatusChanged.RecordOverheadBytes <= _world.MaxRecordBytes);
        // One text more would not have fitted.
        var oneMore = done with { Result = result with { Texts = [.. result.Texts, $"{result.Texts.Count}:".PadRight(1_000, '<')] } };
        Assert.True(EventCodec.Serialize(oneMore).Length + VideoStatusChanged.RecordOverheadBytes > _world.MaxRecordBytes);
    }

    [Fact]
    public async Task AVideoWhoseStoredStateCannotBeReadStartsAfreshInsteadOfRefusingEveryCall()
    {
        // A damaged state, cut off in the middle; an incompatible version's would fail the same way.
        _world.UnreadableStates["v-unreadable"] = """{"Job": {"VideoId": "v-unreadable", "TenantId": "t1", "Source""";

        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-unreadable").Submit(Job("v-unreadable", 3)));

        var done = await _world.WaitFinishedAsync("v-unreadable", Deadline);
        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal([0, 1, 2], _world.FramesOf("v-unreadable"));
    }

    [Fact]
    public async Task ARetryLeavesAVideoThatIsPublishingAlone()
    {
        _world.DelayMs["v-busy"] = 40;
        var grain = Grain("v-busy");
        Assert.Equal(SubmitOutcome.Accepted, await grain.Submit(Job("v-busy", 40)));
        await Eventually.UntilAsync(() => _world.FramesOf("v-busy").Count >= 3, Deadline, "the first frames");

        Assert.Equal(SubmitOutcome.AlreadyKnown, await grain.Retry(Job("v-busy", 40)));

        Assert.Equal(VideoState.Completed, (await _world.WaitFinishedAsync("v-busy", Deadline)).State);
        // Not restarted: every frame was published once, in order.
        Assert.Equal(Enumerable.Range(0, 40), _world.FramesOf("v-busy"));
    }

    [Fact]
    public async Task AVideoRefusedAtTheDoorFailsAsAttemptOneAndARetryIsANewAttemptThatCompletes()
    {
        var job = Job("v-door", 3);
        var grain = Grain("v-door");

        Assert.Equal(SubmitOutcome.Refused, await grain.Refuse(job, "the media root is not mounted"));
        var refused = Assert.Single(_world.StatusesOf("v-door"));
        Assert.Equal((VideoState.Failed, 1, "the media root is not mounted"), (refused.State, refused.Attempt, refused.Reason));
        Assert.Equal(SubmitOutcome.AlreadyKnown, await grain.Refuse(job, "again"));
        Assert.Equal(SubmitOutcome.AlreadyKnown, await grain.Submit(job));

        // The result store replaces a final state only with a later attempt: the retry must be one.
        Assert.Equal(SubmitOutcome.Restarted, await grain.Retry(job));
        await Eventually.UntilAsync(() => _world.StatusesOf("v-door").Any(s => s.State == VideoState.Completed), Deadline, "the retry completed");
        var statuses = _world.StatusesOf("v-door");
        Assert.All(statuses.Skip(1), s => Assert.Equal(2, s.Attempt));
        Assert.True(statuses.Zip(statuses.Skip(1)).All(p => p.First.Sequence < p.Second.Sequence));
        Assert.Equal(Enumerable.Range(0, 3), _world.FramesOf("v-door"));
    }

    [Fact]
    public async Task EverySampledFrameLeavesAJpegThumbnailInTheBlobStore()
    {
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-thumbs").Submit(Job("v-thumbs", 5)));
        Assert.Equal(VideoState.Completed, (await _world.WaitFinishedAsync("v-thumbs", Deadline)).State);

        // Thumbnails are written in the background; the video does not wait for them.
        var thumbnails = await Eventually.WaitAsync(
            async () => (await Task.WhenAll(Enumerable.Range(0, 5).Select(i => _world.Blobs.GetAsync(FrameThumbnails.Key("acme", "v-thumbs", i))))).OfType<Blob>().ToList(),
            found => found.Count == 5, Deadline, "five thumbnails");
        foreach (var thumbnail in thumbnails)
        {
            using var image = SkiaSharp.SKBitmap.Decode(thumbnail.Content);
            Assert.Equal((8, 8), (image.Width, image.Height));
        }
    }

    [Fact]
    public async Task ABlobStoreThatFailsCostsTheVideoNothingButItsThumbnails()
    {
        _world.Blobs.FailingVideos["v-noblobs"] = true;
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-noblobs").Submit(Job("v-noblobs", 4)));
        var done = await _world.WaitFinishedAsync("v-noblobs", Deadline);

        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal(Enumerable.Range(0, 4), _world.FramesOf("v-noblobs"));
        Assert.Null(await _world.Blobs.GetAsync(FrameThumbnails.Key("acme", "v-noblobs", 0)));
    }

    [Fact]
    public async Task ASecondSubmissionOfAKnownVideoChangesNothing()
    {
        var job = Job("v-dup", 3);
        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-dup").Submit(job));
        await _world.WaitFinishedAsync("v-dup", Deadline);
        Assert.Equal(SubmitOutcome.AlreadyKnown, await Grain("v-dup").Submit(job with { SourceLabel = "other" }));
        Assert.Equal(3, _world.Analysed.Count(a => a.VideoId == "v-dup"));
        Assert.Single(_world.StatusesOf("v-dup"), s => s.State == VideoState.Completed);
    }

    [Fact]
    public async Task AFailedSaveAtSubmissionKeepsNothingSoTheRetryIsAccepted()
    {
        var job = Job("v-save", 4);
        _world.FailNextWrite["v-save"] = true;
        await Assert.ThrowsAnyAsync<Exception>(() => Grain("v-save").Submit(job));
        Assert.Empty(_world.StatusesOf("v-save"));

        Assert.Equal(SubmitOutcome.Accepted, await Grain("v-save").Submit(job));
        var done = await _world.WaitFinishedAsync("v-save", Deadline);
        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal(4, done.Result!.Frames);
    }

    [Fact]
    public async Task ADeactivatedVideoResumesAfterItsLastPublishedFrame()
    {
        _world.DelayMs["v-resume"] = 20;
        await Grain("v-resume").Submit(Job("v-resume", 80));
        await Eventually.UntilAsync(() => _world.FramesOf("v-resume").Count >= 20, Deadline, "20 frames of v-resume");
        await Grain("v-resume").Cast<IGrainManagementExtension>().DeactivateOnIdle();

        var done = await _world.WaitFinishedAsync("v-resume", Deadline);
        Assert.Equal(VideoState.Completed, done.State);
        Assert.Equal(80, done.Result!.Frames);
        Assert.Equal(Enumerable.Range(0, 80), _world.FramesOf("v-resume").Distinct().Order());
        // Only frames that were in flight when the grain stopped are analysed twice.
        Assert.InRange(_world.Analysed.Count(a => a.VideoId == "v-resume"), 80, 80 + 2 * VideoGrainCluster.FramesInFlight);
    }

    [Fact]
    public async Task ARunStartedAgainFromTheCheckpointOfFrameZeroCountsThatFrameOnce()
    {
        // Writes: accepted, processing, frame 0. The third reaches the store but its answer is lost, so the run
        // starts again from the checkpoint of frame 0.
        _world.Outages["v-first"] = (After: 2, Failures: 1);
        await Grain("v-first").Submit(Job("v-first", 4));

        var done = await _world.WaitFinishedAsync("v-first", Deadline);
        Assert.True(done.State == VideoState.Completed, done.Reason);
        Assert.Equal(4, done.Result!.Frames);
        Assert.Equal(Enumerable.Range(0, 4), _world.FramesOf("v-first").Distinct().Order());
        Assert.Equal(1, _world.FramesOf("v-first").Count(f => f == 0));
    }

    [Fact]
    public async Task AFailedModelCallIsRetried()
    {
        _world.FailOnce[("v-retry", 2)] = true;
        await Grain("v-retry").Submit(Job("v-retry", 5));
        var done = await _world.WaitFinishedAsync("v-retry", Deadline);
        Assert.True(done.State == VideoState.Completed, done.Reason);
        Assert.Equal(Enumerable.Range(0, 5), _world.FramesOf("v-retry"));
        Assert.Equal(2, _world.Analysed.Count(a => a == ("v-retry", 2)));
    }

    [Fact]
    public async Task AFrameTheModelRefusesFailsTheVideoWithItsReason()
    {
        _world.Refuse[("v-refused", 1)] = true;
        await Grain("v-refused").Submit(Job("v-refused", 5));
        var done = await _world.WaitFinishedAsync("v-refused", Deadline);
        Assert.Equal(VideoState.Failed, done.State);
        Assert.Contains("refused frame 1", done.Reason);
        Assert.Equal(1, _world.Analysed.Count(a => a == ("v-refused", 1)));
    }

    [Fact]
    public async Task AVideoThatBreaksOffMidwayFailsLastAndItsFramesInFlightComeBeforeTheFailure()
    {
        _world.DelayMs["v-cut"] = 30;
        _world.CorruptAt["v-cut"] = 8;
        await Grain("v-cut").Submit(Job("v-cut", 20));
        var done = await _world.WaitFinishedAsync("v-cut", Deadline);
        Assert.Equal(VideoState.Failed, done.State);
        Assert.Contains("Truncated", done.Reason);
        await Task.Delay(500);
        var statuses = _world.StatusesOf("v-cut");
        Assert.Same(done, statuses[^1]);
        Assert.Equal(done.Sequence, statuses.Max(s => s.Sequence));
        Assert.Equal(Enumerable.Range(0, 8), _world.FramesOf("v-cut"));
    }

    [Fact]
    public async Task AStoreOutageMidVideoInterruptsTheRunWhichResumesFromItsCheckpoint()
    {
        // The first failed write lands but its answer is lost, the next ones fail outright: more than a save's own
        // retries absorb, so the run is interrupted and starts again from what the store holds.
        _world.Outages["v-outage"] = (6, 7);
        await Grain("v-outage").Submit(Job("v-outage", 15));
        var done = await _world.WaitFinishedAsync("v-outage", Deadline);
        Assert.True(done.State == VideoState.Completed, done.Reason);
        Assert.Equal(Enumerable.Range(0, 15), _world.FramesOf("v-outage").Distinct().Order());
        Assert.Equal(15, done.Result!.Frames);
        var sequences = _world.StatusesOf("v-outage").Select(s => s.Sequence).ToList();
        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(sequences.Distinct().Count(), sequences.Count);
    }

    [Fact]
    public async Task ARetryWhileTheFailureIsStillBeingPublishedStartsAnAttemptTheWatchdogStillGuards()
    {
        _world.Refuse[("v-late", 1)] = true;
        _world.FailStatusPublishes[("v-late", VideoState.Failed)] = 3;
        await Grain("v-late").Submit(Job("v-late", 4));
        await Eventually.UntilAsync(() => _world.FailStatusPublishes[("v-late", VideoState.Failed)] < 3, Deadline, "a refused failure");

        // The new attempt's decoder hangs at frame 2: only the watchdog stops it.
        _world.Refuse.TryRemove(("v-late", 1), out _);
        _world.HangOnceAt["v-late"] = 2;
        Assert.Equal(SubmitOutcome.Restarted, await Grain("v-late").Retry(Job("v-late", 4)));

        await Eventually.UntilAsync(() => _world.StatusesOf("v-late").Any(s => s is { State: VideoState.Completed, Attempt: 2 }), Deadline, "the second attempt completes");
        Assert.True(_world.HangsEnded.ContainsKey("v-late"), "the stalled decoder was stopped");
        var failed = Assert.Single(_world.StatusesOf("v-late"), s => s.State == VideoState.Failed);
        Assert.Equal(1, failed.Attempt);
    }

    [Fact]
    public async Task AStalledRunIsStoppedAndStartedAgainFromItsCheckpoint()
    {
        _world.HangOnceAt["v-stall"] = 5;
        await Grain("v-stall").Submit(Job("v-stall", 10));
        var done = await _world.WaitFinishedAsync("v-stall", Deadline);
        Assert.True(done.State == VideoState.Completed, done.Reason);
        Assert.True(_world.HangsEnded.ContainsKey("v-stall"), "the stalled decoder was stopped");
        Assert.Equal(Enumerable.Range(0, 10), _world.FramesOf("v-stall"));
    }

    [Fact]
    public async Task ARetryRestartsAFailedVideoAsANewAttemptAndLeavesACompletedOneAlone()
    {
        _world.Refuse[("v-again", 3)] = true;
        await Grain("v-again").Submit(Job("v-again", 6));
        Assert.Equal(VideoState.Failed, (await _world.WaitFinishedAsync("v-again", Deadline)).State);

        _world.Refuse.TryRemove(("v-again", 3), out _);
        Assert.Equal(SubmitOutcome.Restarted, await Grain("v-again").Retry(Job("v-again", 6)));
        await Eventually.UntilAsync(() => _world.StatusesOf("v-again").Any(s => s.State == VideoState.Completed), Deadline, "the retried video completes");
        var last = _world.StatusesOf("v-again")[^1];
        Assert.Equal((VideoState.Completed, 2, 6), (last.State, last.Attempt, last.Result!.Frames));
        Assert.Equal(Enumerable.Range(0, 6), _world.FramesOf("v-again"));
        Assert.Equal(SubmitOutcome.AlreadyKnown, await Grain("v-again").Retry(Job("v-again", 6)));
    }

    [Fact]
    public async Task TheUploadsQuestionReachesTheLanguageModelForEveryFrame()
    {
        const string question = "Which vehicles are in this frame?";
        await Grain("v-asked").Submit(Job("v-asked", 4) is var job ? job with { Settings = job.Settings with { Prompt = question } } : null!);
        var done = await _world.WaitFinishedAsync("v-asked", Deadline);
        Assert.Equal(VideoState.Completed, done.State);
        Assert.All(_world.FrameEventsOf("v-asked"), f => Assert.Equal(question, f.Text));
    }

    [Fact]
    public async Task TheUploadsReportThresholdsReachTheLanguageModelForEveryFrame()
    {
        await Grain("v-every").Submit(Job("v-every", 4) is var job ? job with { Settings = job.Settings with { TextThreshold = 0, ShapeThreshold = 0.7 } } : null!);
        var done = await _world.WaitFinishedAsync("v-every", Deadline);
        Assert.Equal(VideoState.Completed, done.State);
        var asked = _world.ReportThresholds.Where(t => t.Video == "v-every").ToList();
        Assert.Equal(4, asked.Count);
        Assert.All(asked, t => Assert.Equal((0.0, 0.7), (t.Text, t.Shapes)));
        // A video that sets none leaves the model's own.
        Assert.All(_world.ReportThresholds.Where(t => t.Video != "v-every"), t => Assert.Equal((null, null), (t.Text, t.Shapes)));
    }

    [Fact]
    public async Task AnUnreadableVideoFailsWithTheMediaError()
    {
        await Grain("v-corrupt").Submit(Job("v-corrupt", -1));
        var done = await _world.WaitFinishedAsync("v-corrupt", Deadline);
        Assert.Equal(VideoState.Failed, done.State);
        Assert.Contains("Corrupt", done.Reason);
        Assert.Empty(_world.FramesOf("v-corrupt"));
    }
}

/// <summary>A cluster whose media silo is apart from the model silos, so the test can add a model silo mid-video.</summary>
public sealed class SplitRolesCluster : IAsyncLifetime
{
    public VideoGrainCluster Inner { get; } = new();

    public Task InitializeAsync() => Inner.StartAsync<VideoGrainCluster.MediaApartFromModel>(silos: 2);

    public Task DisposeAsync() => Inner.DisposeAsync();
}

public sealed class LateSiloTests(SplitRolesCluster fixture) : IClassFixture<SplitRolesCluster>
{
    [Fact]
    public async Task AModelSiloThatJoinsMidVideoTakesPartOfItsFrames()
    {
        var world = VideoGrainCluster.World;
        const string id = "v-late";
        world.Frames[id] = 120;
        world.DelayMs[id] = 40;
        File.WriteAllBytes(Path.Combine(world.MediaRoot, id), [0]);
        var cluster = fixture.Inner.Cluster;
        await cluster.GrainFactory.GetGrain<IVideoGrain>(new VideoKey("acme", id).ToString())
            .Submit(new VideoJob(id, "acme", id, id, new AnalysisSettings(2, null, false, null, 10_000, 1, 2, RoutingMode.Auto, null), null));
        await Eventually.UntilAsync(() => world.FramesOf(id).Count >= 10, TimeSpan.FromSeconds(30), "10 frames of v-late");

        var joined = await cluster.StartAdditionalSiloAsync();
        var done = await world.WaitFinishedAsync(id, TimeSpan.FromSeconds(60));

        Assert.Equal(VideoState.Completed, done.State);
        var visionSilos = world.FrameEventsOf(id).Select(f => f.Placement!.Vision).ToHashSet();
        Assert.Contains(joined.Name, visionSilos);
        Assert.DoesNotContain("Primary", visionSilos);
    }
}

/// <summary>One in-process cluster for all video grain tests.</summary>
public sealed class VideoGrainCluster : IAsyncLifetime
{
    public const int FramesInFlight = 3;

    /// <summary>What the fakes inside the silo see and record; the silo runs in this process, so it is shared.</summary>
    public static FakeWorld World { get; } = new();

    public TestCluster Cluster { get; private set; } = null!;

    public Task InitializeAsync() => StartAsync<AllRoles>(silos: 1);

    /// <summary>Starts the cluster with a configurator that decides each silo's roles.</summary>
    public async Task StartAsync<TConfigurator>(short silos) where TConfigurator : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder(silos);
        builder.AddSiloBuilderConfigurator<TConfigurator>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>Every silo holds every role.</summary>
    public sealed class AllRoles : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo) => ConfigureFakeSilo(silo, string.Join(',', SiloRoles.All));
    }

    /// <summary>The first silo is the media silo; every other silo, including those that join later, holds the model roles.</summary>
    public sealed class MediaApartFromModel : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo) => ConfigureFakeSilo(silo,
            silo.Configuration["Orleans:Name"] == "Primary" ? SiloRoles.Media : $"{SiloRoles.Vision},{SiloRoles.Language}");
    }

    private static void ConfigureFakeSilo(ISiloBuilder silo, string roles)
    {
        silo.UseSiloMetadata(new Dictionary<string, string> { [SiloRoles.MetadataKey] = roles });
        silo.UseInMemoryReminderService();
        silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        var services = silo.Services;
        services.AddVireoGrainStateJson();
        services.AddKeyedSingleton<IGrainStorage>(VideoGrain.StorageName, (sp, _) => new FlakyMemoryStorage(sp.GetRequiredService<IGrainStorageSerializer>(), World));
        services.AddVireoPlacement();
        services.AddOptions<PipelineOptions>().Configure(o =>
        {
            o.MediaRoot = World.MediaRoot;
            o.ResumeCheckSeconds = 1;
            o.ModelCallAttempts = 3;
            o.FramesInFlight = FramesInFlight;
            o.FrameLongSide = 64;
            o.StallSeconds = 6;
            o.AllowUrls = true;
            o.AllowPrivateUrlHosts = true;
            o.DownloadFolder = Path.Combine(World.MediaRoot, "downloads");
            o.DownloadTimeoutSeconds = 5;
        });
        services.AddOptions<WorkerOptions>().Configure(o => o.ModelPath = "unused");
        services.AddSourceResolver();
        services.AddSingleton<IMediaProbe>(World);
        services.AddSingleton<IFrameSampler>(World);
        services.AddSingleton<IEventPublisher>(World);
        services.AddSingleton<IVisionEngine>(World);
        services.AddSingleton<ILanguageEngine>(World);
        services.AddSingleton<VisionBatcher>();
        services.AddSingleton<LanguageBatcher>();
        services.AddSingleton<IBlobStore>(World.Blobs);
        services.AddSingleton<ThumbnailWriter>();
    }
}

/// <summary>
/// Fake media and model engines plus a recording publisher. A video's id is its source file under the media root;
/// <see cref="Frames"/> says how many frames it has (negative: the file is corrupt).
/// </summary>
public sealed class FakeWorld : IMediaProbe, IFrameSampler, IEventPublisher, IVisionEngine, ILanguageEngine
{
    private readonly ConcurrentQueue<(string Topic, object Event)> _published = new();

    public FakeWorld()
    {
        MediaRoot = Directory.CreateTempSubdirectory("vireo-grain-tests").FullName;
        Blobs = new FlakyBlobStore(new FolderBlobStore(Path.Combine(MediaRoot, "blobs")));
    }

    public string MediaRoot { get; }

    /// <summary>Where the media silo writes thumbnails: a real folder store that can be told to fail a video's writes.</summary>
    public FlakyBlobStore Blobs { get; }
    public ConcurrentDictionary<string, int> Frames { get; } = new();
    public ConcurrentDictionary<string, int> DelayMs { get; } = new();

    /// <summary>Videos whose probe finds no duration declared, as for a recording written live.</summary>
    public ConcurrentDictionary<string, bool> NoDuration { get; } = new();
    public ConcurrentDictionary<(string, int), bool> FailOnce { get; } = new();
    public ConcurrentDictionary<(string, int), bool> Refuse { get; } = new();

    /// <summary>Before this frame, decoding runs this long without yielding a frame, reporting its progress.</summary>
    public ConcurrentDictionary<string, (int Frame, TimeSpan Length)> DecodeGapAt { get; } = new();
    public ConcurrentDictionary<string, bool> FailNextWrite { get; } = new();
    public ConcurrentDictionary<string, int> CorruptAt { get; } = new();
    public ConcurrentDictionary<string, int> HangOnceAt { get; } = new();
    public ConcurrentDictionary<string, bool> HangsEnded { get; } = new();

    /// <summary>What the store holds for a video before its grain first reads it: text that is not its state's JSON.</summary>
    public ConcurrentDictionary<string, string> UnreadableStates { get; } = new();

    /// <summary>After <c>After</c> writes of a video's state, the store fails the next <c>Failures</c>; the first of them lands but its answer is lost.</summary>
    public ConcurrentDictionary<string, (int After, int Failures)> Outages { get; } = new();
    public ConcurrentDictionary<string, int> Writes { get; } = new();
    public ConcurrentQueue<(string VideoId, int Frame)> Analysed { get; } = new();

    public List<int> FramesOf(string videoId) => FrameEventsOf(videoId).Select(f => f.FrameIndex).ToList();

    public List<FrameAnalyzed> FrameEventsOf(string videoId) =>
        _published.Select(p => p.Event).OfType<FrameAnalyzed>().Where(f => f.VideoId == videoId).ToList();

    public List<VideoStatusChanged> StatusesOf(string videoId) =>
        _published.Select(p => p.Event).OfType<VideoStatusChanged>().Where(s => s.VideoId == videoId).ToList();

    public async Task<VideoStatusChanged> WaitFinishedAsync(string videoId, TimeSpan deadline)
    {
        VideoStatusChanged? finished = null;
        await Eventually.UntilAsync(() =>
            (finished = StatusesOf(videoId).LastOrDefault(s => s.State is VideoState.Completed or VideoState.Failed)) is not null, deadline, $"the end of {videoId}");
        return finished!;
    }

    /// <summary>The video id a path names; the grain hands the decoder a /proc name of the file it holds open.</summary>
    private static string IdOf(string path) => Path.GetFileName(path.StartsWith("/proc/", StringComparison.Ordinal) ? new FileInfo(path).LinkTarget! : path);

    public Task<VideoInfo> ProbeAsync(string path, CancellationToken cancellationToken = default)
    {
        var frames = Frames[IdOf(path)];
        if (frames < 0)
            throw new MediaException(MediaErrorKind.Corrupt, path, "invalid data found when processing input");
        var duration = NoDuration.ContainsKey(IdOf(path)) ? TimeSpan.Zero : TimeSpan.FromSeconds(frames / 2.0);
        return Task.FromResult(new VideoInfo(path, 1000, duration, 64, 36, 0, 2, 2, false, "h264", "yuv420p", "mp4", false));
    }

    public IAsyncEnumerable<SampledFrame> SampleAsync(string path, SamplingPolicy policy, FrameSize size, IProgress<DecodeProgress>? progress = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the video grain samples a probed video");

    public async IAsyncEnumerable<SampledFrame> SampleAsync(VideoInfo video, SamplingPolicy policy, FrameSize size, IProgress<DecodeProgress>? progress = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var id = IdOf(video.Path);
        for (var i = 0; i < Frames[id]; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            await Task.Yield();
            if (CorruptAt.TryGetValue(id, out var corrupt) && i == corrupt)
                throw new MediaException(MediaErrorKind.Truncated, video.Path, "the file ends in the middle of a frame");
            if (DecodeGapAt.TryGetValue(id, out var gap) && i == gap.Frame)
            {
                // Like ffmpeg decoding a long stretch it keeps nothing of: busy, reporting, but no frame for a while.
                var gapClock = System.Diagnostics.Stopwatch.StartNew();
                while (gapClock.Elapsed < gap.Length)
                {
                    progress?.Report(new DecodeProgress(TimeSpan.FromSeconds(i / 2.0), video.Duration, i, i));
                    await Task.Delay(200, cancellationToken);
                }
            }
            if (HangOnceAt.TryGetValue(id, out var hang) && i == hang && HangOnceAt.TryRemove(id, out _))
            {
                // Like an ffmpeg that stops writing: only cancellation (which kills the process) ends the wait.
                try
                {
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                }
                finally
                {
                    HangsEnded[id] = true;
                }
            }
            const int width = 8, height = 8;
            var buffer = ArrayPool<byte>.Shared.Rent(width * height * 3);
            yield return new SampledFrame(buffer, width * height * 3, 0)
            {
                Index = i,
                SourceFrameNumber = i,
                Timestamp = TimeSpan.FromSeconds(i / 2.0),
                Reasons = FrameReasons.Interval,
                IsKeyframe = i == 0,
                Width = width,
                Height = height,
            };
        }
    }

    /// <summary>The least Kafka:MaxRecordBytes allows; a larger record fails as the producer fails it.</summary>
    public int MaxRecordBytes => 64 * 1024;

    public Task PublishAsync<T>(string topic, string key, T value, CancellationToken cancellationToken = default) where T : class
    {
        if (EventCodec.Serialize(value).Length + System.Text.Encoding.UTF8.GetByteCount(key) > MaxRecordBytes)
            throw new KafkaException(Confluent.Kafka.ErrorCode.MsgSizeTooLarge);
        if (value is VideoStatusChanged status && FailStatusPublishes.TryGetValue((status.VideoId, status.State), out var left) && left > 0)
        {
            FailStatusPublishes[(status.VideoId, status.State)] = left - 1;
            // What a producer throws when the broker stays away past its message time-out.
            throw new KafkaException(Confluent.Kafka.ErrorCode.Local_MsgTimedOut);
        }
        _published.Enqueue((topic, value));
        return Task.CompletedTask;
    }

    /// <summary>The next this many status publishes of (video, state) fail as a broker outage does.</summary>
    public ConcurrentDictionary<(string, VideoState), int> FailStatusPublishes { get; } = new();

    public Task DeadLetterAsync(ConsumeResult<string, byte[]> record, string reason, CancellationToken cancellationToken = default) =>
        PublishAsync(VireoTopics.DeadLetter, record.Message.Key, reason, cancellationToken);

    public IReadOnlyList<VisionResult> Encode(IReadOnlyList<FrameRequest> batch) => batch.Select(request =>
    {
        var video = VideoKey.Parse(request.VideoId).VideoId;
        Analysed.Enqueue((video, request.FrameIndex));
        if (DelayMs.TryGetValue(video, out var delay))
            Thread.Sleep(delay);
        if (FailOnce.TryRemove((video, request.FrameIndex), out _))
            throw new InvalidOperationException($"transient failure at frame {request.FrameIndex}");
        if (Refuse.ContainsKey((video, request.FrameIndex)))
            throw new ArgumentException($"refused frame {request.FrameIndex}");
        TileDecision[] tiles = [new(0, false, 0.2, 256), new(1, false, 0.3, 256)];
        return new VisionResult(tiles, 512, 512, [BFloat16.FromSingle(request.FrameIndex)], 1, new ModelIdentity("fake-vision", "fake, no router", "float32", "cpu"));
    }).ToArray();

    /// <summary>Each frame of the video reads a text of its own, of this many characters.</summary>
    public ConcurrentDictionary<string, int> LongTexts { get; } = new();

    /// <summary>The report thresholds each language request carried, by video.</summary>
    public ConcurrentQueue<(string Video, double? Text, double? Shapes)> ReportThresholds { get; } = new();

    public IReadOnlyList<LanguageResult> Generate(IReadOnlyList<LanguageRequest> batch)
    {
        foreach (var r in batch) ReportThresholds.Enqueue((VideoKey.Parse(r.VideoId).VideoId, r.TextThreshold, r.ShapeThreshold));
        return batch.Select(r => new LanguageResult($"scene {(int)BFloat16.ToSingle(r.VisualTokens[0]) / 4}",
            LongTexts.TryGetValue(VideoKey.Parse(r.VideoId).VideoId, out var length) ? $"{r.FrameIndex}:".PadRight(length, '<') : r.Question ?? "",
            1, "fake", new ModelIdentity("fake-language", "fake", "float32", "cpu"), TextConfidence(r.FrameIndex))).ToArray();
    }

    /// <summary>The text confidence the fake language side gives a frame.</summary>
    public static double TextConfidence(int frameIndex) => 1.0 / (2 + frameIndex);
}

/// <summary>
/// Grain storage in memory that can fail a video's next write. States are written with the silo's grain storage
/// serializer (JSON), as the Redis grain storage writes them.
/// </summary>
internal sealed class FlakyMemoryStorage(IGrainStorageSerializer serializer, FakeWorld world) : IGrainStorage
{
    private readonly ConcurrentDictionary<GrainId, (BinaryData State, string ETag)> _rows = new();

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (world.UnreadableStates.TryRemove(VideoKey.Parse(grainId.Key.ToString()!).VideoId, out var unreadable))
            _rows[grainId] = (BinaryData.FromString(unreadable), "stored-before");
        if (_rows.TryGetValue(grainId, out var row))
        {
            grainState.State = serializer.Deserialize<T>(row.State);
            grainState.ETag = row.ETag;
            grainState.RecordExists = true;
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var video = VideoKey.Parse(grainId.Key.ToString()!).VideoId;
        if (world.FailNextWrite.TryRemove(video, out _))
            throw new InvalidOperationException("the store is unreachable");
        var write = world.Writes.AddOrUpdate(video, 1, (_, n) => n + 1);
        var outage = world.Outages.GetValueOrDefault(video, (After: int.MaxValue - 1, Failures: 0));
        if (write > outage.After + 1 && write <= outage.After + outage.Failures)
            throw new InvalidOperationException("the store is unreachable");
        if (_rows.TryGetValue(grainId, out var stored) && stored.ETag != grainState.ETag)
            throw new InconsistentStateException("the stored version changed", stored.ETag, grainState.ETag ?? "");
        var etag = Guid.NewGuid().ToString("N");
        _rows[grainId] = (serializer.Serialize(grainState.State), etag);
        if (write == outage.After + 1 && outage.Failures > 0)
            throw new InvalidOperationException("the connection to the store broke before its answer arrived");
        grainState.ETag = etag;
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        _rows.TryRemove(grainId, out _);
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}

/// <summary>A folder store whose writes fail for the videos named in <see cref="FailingVideos"/>.</summary>
public sealed class FlakyBlobStore(FolderBlobStore store) : IBlobStore
{
    public ConcurrentDictionary<string, bool> FailingVideos { get; } = new();

    public FolderBlobStore Store => store;

    public bool Enabled => true;

    public Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken = default) =>
        FailingVideos.Keys.Any(v => key.StartsWith(FrameThumbnails.VideoPrefix("acme", v), StringComparison.Ordinal))
            ? throw new IOException("the blob store is down")
            : store.PutAsync(key, content, contentType, cancellationToken);

    public Task<Blob?> GetAsync(string key, CancellationToken cancellationToken = default) => store.GetAsync(key, cancellationToken);

    public Task<int> DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default) => store.DeletePrefixAsync(prefix, cancellationToken);
}
