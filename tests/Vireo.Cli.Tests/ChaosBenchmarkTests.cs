using Vireo.Cli.Commands.Chaos;

namespace Vireo.Cli.Tests;

/// <summary>The chaos benchmark's schedule and its check of what Postgres holds.</summary>
public sealed class ChaosBenchmarkTests
{
    [Fact]
    public void TheScheduleFollowsItsSeedHitsEveryTargetAndSharesVideoIdsOnlyAcrossTenants()
    {
        var plan = ChaosPlan.Create("run", videos: 20, faults: 20, clips: 3, seed: 5);

        Assert.Equal(plan.Uploads, ChaosPlan.Create("run", 20, 20, 3, 5).Uploads);
        Assert.Equal(plan.Faults, ChaosPlan.Create("run", 20, 20, 3, 5).Faults);
        Assert.NotEqual(plan.Faults, ChaosPlan.Create("run", 20, 20, 3, 6).Faults);
        Assert.Equal(20, plan.Faults.Count);
        Assert.Equal(Enum.GetValues<FaultTarget>().ToHashSet(), plan.Faults.Take(6).Select(f => f.Target).ToHashSet());
        Assert.All(plan.Faults.Where(f => f.Target == FaultTarget.Postgres), f => Assert.InRange(f.Down.TotalSeconds, 10, 30));
        Assert.All(plan.Faults.Where(f => f.IsKill), f => Assert.InRange(f.Down.TotalSeconds, 1, 5));

        Assert.Equal(20, plan.Uploads.Select(u => u.Key).Distinct().Count());
        Assert.Equal(ChaosPlan.Tenants.Length, plan.Uploads.Select(u => u.TenantId).Distinct().Count());
        var shared = plan.Uploads.GroupBy(u => u.VideoId).Where(g => g.Count() > 1).ToList();
        Assert.Equal(5, shared.Count);
        Assert.All(shared, g =>
        {
            Assert.Equal(g.Count(), g.Select(u => u.TenantId).Distinct().Count());
            Assert.Equal(g.Count(), g.Select(u => (u.Clip, u.Fps)).Distinct().Count());
        });
    }

    private static readonly SampledPoint[] ClipA = [new(0, 0), new(1, 1), new(2, 2)];
    private static readonly SampledPoint[] ClipB = [new(0, 0.25), new(1, 0.75)];

    private static readonly UploadedVideo[] Uploads =
    [
        new(new ChaosUpload("t1", "v", 0, 1, TimeSpan.Zero), "uploads/t1-v.mp4", ClipA),
        new(new ChaosUpload("t2", "v", 1, 2, TimeSpan.Zero), "uploads/t2-v.mp4", ClipB),
    ];

    private static VideoRow Completed(string tenant, int frames) => new(tenant, "v", "completed", null, $"uploads/{tenant}-v.mp4", frames, 1);

    private static IEnumerable<FrameRow> Frames(string tenant, SampledPoint[] clip) => clip.Select(p => new FrameRow(tenant, "v", p.Index, p.Seconds));

    [Fact]
    public void EverySampledFrameStoredOnceUnderItsOwnTenantIsClean()
    {
        var verdict = ChaosCheck.Run(Uploads, [Completed("t1", 3), Completed("t2", 2)], [.. Frames("t1", ClipA), .. Frames("t2", ClipB)], []);

        Assert.Equal((0, 0, 0, 0, 2, 0), (verdict.Lost, verdict.Duplicates, verdict.Stuck, verdict.WrongTenant, verdict.Completed, verdict.Failed));
    }

    [Fact]
    public void AMissingFrameIsLostAndAFrameUnderAnotherIndexIsADuplicate()
    {
        FrameRow[] frames = [new("t1", "v", 0, 0), new("t1", "v", 1, 1), new("t1", "v", 3, 2), .. Frames("t2", ClipB)];

        var verdict = ChaosCheck.Run(Uploads, [Completed("t1", 3), Completed("t2", 2)], frames, []);

        Assert.Equal(1, verdict.Lost);
        Assert.Equal(1, verdict.Duplicates);
        Assert.Equal(0, verdict.WrongTenant);
    }

    [Fact]
    public void RowsThatCrossTenantsAreCounted()
    {
        // t2's video holds one of t1's frames; a row of a tenant that never uploaded v; t1's row names t2's source.
        FrameRow[] frames = [.. Frames("t1", ClipA), new("t2", "v", 0, 0.25), new("t2", "v", 1, 1), new("t3", "v", 0, 0)];
        VideoRow[] videos = [Completed("t1", 3) with { Source = "uploads/t2-v.mp4" }, Completed("t2", 2), Completed("t3", 1)];

        var verdict = ChaosCheck.Run(Uploads, videos, frames, [new OwnedRow("segments", "t3", "v")]);

        Assert.Equal(5, verdict.WrongTenant);
        Assert.Equal(1, verdict.Lost);
        Assert.Equal(0, verdict.Duplicates);
    }

    [Fact]
    public void AVideoThatNeverReachedAFinalStateOrFailedWithoutAReasonIsStuck()
    {
        VideoRow[] videos = [Completed("t1", 3) with { State = "processing" }, Completed("t2", 2) with { State = "failed", Reason = "" }];

        Assert.Equal(2, ChaosCheck.Run(Uploads, videos, [], []).Stuck);
        Assert.Equal(2, ChaosCheck.Run(Uploads, [], [], []).Stuck);
        var failed = ChaosCheck.Run(Uploads, [Completed("t1", 3) with { State = "failed", Reason = "Corrupt: bad" }, Completed("t2", 2)], [.. Frames("t2", ClipB)], []);
        Assert.Equal((0, 0, 1), (failed.Stuck, failed.Lost, failed.Failed));
    }
}
