using Microsoft.Extensions.Logging.Abstractions;
using Vireo.Messaging;
using Vireo.Testing;

namespace Vireo.Storage.Tests;

public sealed class ResultStoreTests : IAsyncLifetime
{
    private TemporaryDatabase _db = null!;
    private ResultStore _store = null!;

    public async Task InitializeAsync()
    {
        _db = await TemporaryDatabase.CreateAsync();
        await new Migrator(_db.DataSource, NullLogger<Migrator>.Instance).MigrateAsync();
        _store = new ResultStore(_db.DataSource);
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    [Fact]
    public async Task MigrationsApplyOnceAndConcurrentRunsWait()
    {
        var migrator = new Migrator(_db.DataSource, NullLogger<Migrator>.Instance);
        var again = await Task.WhenAll(migrator.MigrateAsync(), migrator.MigrateAsync());
        Assert.All(again, applied => Assert.Empty(applied));
        Assert.Equal(Migrator.Embedded[^1].Version, await migrator.CurrentVersionAsync());
        Assert.Equal((long)Migrator.Embedded.Count, await _db.ScalarAsync<long>("select count(*) from schema_migrations"));
    }

    [Fact]
    public async Task ReplayedFramesInsertNothing()
    {
        var frames = Enumerable.Range(0, 5).Select(i => Frame("v1", i)).ToArray();
        await _store.WriteAsync(frames, []);
        await _store.WriteAsync([frames[2], frames[4], frames[2]], []);
        await _store.WriteAsync(frames, []);
        Assert.Equal(5L, await _db.ScalarAsync<long>("select count(*) from frames where video_id = 'v1'"));
        Assert.Equal(10L, await _db.ScalarAsync<long>("select count(*) from frame_tiles where video_id = 'v1'"));
        Assert.Equal("acme", await _db.ScalarAsync<string>("select tenant_id from videos where video_id = 'v1'"));
    }

    [Fact]
    public async Task OlderOrRepeatedStatusesNeverMoveAVideoBack()
    {
        var result = new VideoResult
        {
            Segments = 2,
            Texts = ["AB12"],
            TextsOmitted = 3,
            Frames = 6,
            TokensBefore = 6 * 512,
            TokensAfter = 6 * 320,
            DurationSeconds = 3,
        };
        var first = new TimelineSegment(0, 1.5, 0, 3, "red circle", ["AB12"]);
        var second = new TimelineSegment(2, 3, 4, 5, "blue square", []);
        await _store.WriteAsync([], [Status("v2", VideoState.Accepted, 1), Status("v2", VideoState.Processing, 2)]);
        await _store.WriteAsync(Enumerable.Range(0, 6).Select(i => Frame("v2", i)).ToArray(),
            [Status("v2", VideoState.Processing, 6) with { Segment = first }, Status("v2", VideoState.Completed, 9) with { Result = result, Segment = second }]);
        // Replays, one of them older than the video's state: the state stays, and the segment is not stored twice.
        await _store.WriteAsync([], [Status("v2", VideoState.Processing, 5), Status("v2", VideoState.Accepted, 1), Status("v2", VideoState.Processing, 6) with { Segment = first }]);
        Assert.Equal("completed", await _db.ScalarAsync<string>("select state from videos where video_id = 'v2'"));
        Assert.Equal(2L, await _db.ScalarAsync<long>("select count(*) from segments where video_id = 'v2'"));
        Assert.Equal("AB12", await _db.ScalarAsync<string>("select texts[1] from segments where video_id = 'v2' and first_frame = 0"));
        Assert.Equal(3072L, await _db.ScalarAsync<long>("select tokens_before from videos where video_id = 'v2'"));
        var stored = await new ResultQueries(_db.DataSource).GetVideoAsync(new VideoKey("acme", "v2"));
        Assert.Equal(["AB12"], stored!.Texts);
        Assert.Equal(3, stored.TextsOmitted);
    }

    [Fact]
    public async Task ACompletionThatOvertakesItsFramesWaitsForThem()
    {
        var result = new VideoResult { Segments = 0, Texts = [], Frames = 3, TokensBefore = 3, TokensAfter = 3, DurationSeconds = 1.5 };
        await _store.WriteAsync([Frame("v4", 0)], [Status("v4", VideoState.Completed, 7) with { Result = result }]);
        Assert.Equal("finishing", await _db.ScalarAsync<string>("select state from videos where video_id = 'v4'"));
        await _store.WriteAsync([Frame("v4", 1)], []);
        Assert.Equal("finishing", await _db.ScalarAsync<string>("select state from videos where video_id = 'v4'"));
        await _store.WriteAsync([Frame("v4", 2), Frame("v4", 1)], []);
        Assert.Equal("completed", await _db.ScalarAsync<string>("select state from videos where video_id = 'v4'"));
        Assert.True(await _db.ScalarAsync<bool>("select completed_at is not null from videos where video_id = 'v4'"));
    }

    [Fact]
    public async Task TwoTenantsKeepTheirOwnVideoUnderTheSameId()
    {
        await _store.WriteAsync([Frame("same", 0), Frame("same", 1)], [Status("same", VideoState.Processing, 3)]);
        await _store.WriteAsync([Frame("same", 0) with { TenantId = "globex", Caption = "green triangle" }],
            [Status("same", VideoState.Failed, 4) with { TenantId = "globex", Reason = "NotAVideo" }]);
        var queries = new ResultQueries(_db.DataSource);
        var acme = await queries.GetVideoAsync(new VideoKey("acme", "same"));
        var globex = await queries.GetVideoAsync(new VideoKey("globex", "same"));
        Assert.Equal(("processing", 2), (acme!.State, acme.FramesStored));
        Assert.Equal(("failed", 1, "NotAVideo"), (globex!.State, globex.FramesStored, globex.Reason));
        Assert.Equal("red circle top-left", await _db.ScalarAsync<string>("select caption from frames where tenant_id = 'acme' and video_id = 'same' and frame_index = 0"));
        Assert.Equal("green triangle", await _db.ScalarAsync<string>("select caption from frames where tenant_id = 'globex' and video_id = 'same' and frame_index = 0"));
        Assert.Null(await queries.GetVideoAsync(new VideoKey("initech", "same")));
    }

    [Fact]
    public async Task AFinalStateIsReplacedOnlyByALaterAttempt()
    {
        // In-flight frames of a failed run must not reopen it, whatever their sequence numbers.
        await _store.WriteAsync([], [Status("v5", VideoState.Failed, 4) with { Reason = "Truncated" }]);
        await _store.WriteAsync([], [Status("v5", VideoState.Processing, 5), Status("v5", VideoState.Processing, 10)]);
        Assert.Equal(("failed", 4L), (await _db.ScalarAsync<string>("select state from videos where video_id = 'v5'"),
            await _db.ScalarAsync<long>("select status_sequence from videos where video_id = 'v5'")));
        // A retry is a new attempt: it reopens the video, and then its own final state holds.
        await _store.WriteAsync([], [Status("v5", VideoState.Accepted, 11) with { Attempt = 2 }]);
        Assert.Equal(("accepted", 2), (await _db.ScalarAsync<string>("select state from videos where video_id = 'v5'"),
            await _db.ScalarAsync<int>("select attempt from videos where video_id = 'v5'")));
        Assert.True(await _db.ScalarAsync<bool>("select completed_at is null and reason is null from videos where video_id = 'v5'"));
        await _store.WriteAsync([], [Status("v5", VideoState.Completed, 14) with { Attempt = 2, Result = new VideoResult { Segments = 0, Texts = [], Frames = 0, TokensBefore = 0, TokensAfter = 0, DurationSeconds = 1 } }]);
        await _store.WriteAsync([], [Status("v5", VideoState.Processing, 15) with { Attempt = 2 }, Status("v5", VideoState.Failed, 16)]);
        Assert.Equal("completed", await _db.ScalarAsync<string>("select state from videos where video_id = 'v5'"));
    }

    [Fact]
    public async Task TextFoundInFramesIsSearchable()
    {
        await _store.WriteAsync([Frame("v3", 0) with { Text = "EXIT 42" }, Frame("v3", 1) with { Text = "" }], []);
        Assert.Equal(0, await _db.ScalarAsync<int>(
            "select frame_index from frames where search @@ plainto_tsquery('simple', 'exit') and tenant_id = 'acme'"));
    }

    [Fact]
    public async Task EachFrameKeepsTheModelThatComputedItAndOlderEventsKeepNone()
    {
        var model = new FrameModel(new ModelIdentity("InternVL3_5-2B-Flash", "internvl2_5, flash router", "bfloat16", "cuda:0"),
            new ModelIdentity("InternVL3_5-2B-Flash", "internvl2_5, flash router", "bfloat16", "cuda:1"));
        await _store.WriteAsync([Frame("v6", 0) with { Model = model }, Frame("v6", 1)], []);
        Assert.Equal("bfloat16", await _db.ScalarAsync<string>("select model->'vision'->>'dtype' from frames where video_id = 'v6' and frame_index = 0"));
        Assert.Equal("cuda:1", await _db.ScalarAsync<string>("select model->'language'->>'device' from frames where video_id = 'v6' and frame_index = 0"));
        Assert.True(await _db.ScalarAsync<bool>("select model is null from frames where video_id = 'v6' and frame_index = 1"));
    }

    [Fact]
    public async Task EachFrameKeepsHowSureTheModelWasOfItsTextAndOlderEventsKeepNone()
    {
        await _store.WriteAsync([Frame("v7", 0) with { TextConfidence = 0.8125 }, Frame("v7", 1) with { Text = "", TextConfidence = 0.25 }, Frame("v7", 2)], []);
        Assert.Equal(0.8125f, await _db.ScalarAsync<float>("select text_confidence from frames where video_id = 'v7' and frame_index = 0"));
        Assert.Equal(0.25f, await _db.ScalarAsync<float>("select text_confidence from frames where video_id = 'v7' and frame_index = 1"));
        Assert.True(await _db.ScalarAsync<bool>("select text_confidence is null from frames where video_id = 'v7' and frame_index = 2"));
    }

    private static FrameAnalyzed Frame(string video, int index) => new()
    {
        VideoId = video,
        TenantId = "acme",
        FrameIndex = index,
        TimestampSeconds = index * 0.5,
        Reasons = "interval",
        Caption = "red circle top-left",
        Text = "AB12",
        Tiles = [new TileDecision(0, true, 0.9, 64), new TileDecision(1, false, 0.1, 256)],
        TokensBefore = 512,
        TokensAfter = 320,
        Timings = new StageTimings(1, 2, 3),
    };

    private static VideoStatusChanged Status(string video, VideoState state, long sequence) => new()
    {
        VideoId = video,
        TenantId = "acme",
        State = state,
        Sequence = sequence,
        At = DateTimeOffset.UtcNow,
    };
}
