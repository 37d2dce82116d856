namespace Vireo.Cli.Commands.Chaos;

/// <summary>A part of the local stack that a fault stops.</summary>
public enum FaultTarget
{
    SiloMedia,
    SiloVision,
    SiloLanguage,
    Sink,
    Redis,
    Postgres,
}

/// <summary>One fault: <see cref="Gap"/> after the previous one ended, the target stops for <see cref="Down"/>, then starts again.</summary>
public sealed record Fault(int Number, FaultTarget Target, TimeSpan Gap, TimeSpan Down)
{
    /// <summary>Postgres is stopped cleanly (pg_ctl stop); everything else is killed with SIGKILL.</summary>
    public bool IsKill => Target != FaultTarget.Postgres;

    public string Describe() => Target switch
    {
        FaultTarget.SiloMedia => "kill -9 silo-media",
        FaultTarget.SiloVision => "kill -9 silo-vision",
        FaultTarget.SiloLanguage => "kill -9 silo-language",
        FaultTarget.Sink => "kill -9 sink",
        FaultTarget.Redis => "kill -9 redis",
        _ => "stop postgres",
    };
}

/// <summary>
/// One upload of the benchmark: tenant, video id, which clip (<see cref="Clip"/>, an index into the rendered clips),
/// the sampling rate, and when it is published, from the start of the run.
/// </summary>
public sealed record ChaosUpload(string TenantId, string VideoId, int Clip, double Fps, TimeSpan At)
{
    public string Key => $"{TenantId}/{VideoId}";
}

/// <summary>
/// The seeded schedule of a chaos run: uploads spread over several tenants (every fourth reuses the previous
/// upload's video id under another tenant, with another clip and rate), and faults in an order where every target
/// comes once before any comes twice.
/// </summary>
public sealed record ChaosPlan(IReadOnlyList<ChaosUpload> Uploads, IReadOnlyList<Fault> Faults)
{
    public static readonly string[] Tenants = ["chaos-a", "chaos-b", "chaos-c"];
    public static readonly double[] Rates = [1, 2];

    public static ChaosPlan Create(string runId, int videos, int faults, int clips, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(videos, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(faults);
        ArgumentOutOfRangeException.ThrowIfLessThan(clips, 2);
        var rng = new Random(seed);

        var targets = new List<FaultTarget>();
        while (targets.Count < faults)
            targets.AddRange(Enum.GetValues<FaultTarget>().OrderBy(_ => rng.Next()));
        var schedule = targets.Take(faults).Select((target, i) => new Fault(
            i + 1,
            target,
            Gap: TimeSpan.FromSeconds(3 + rng.NextDouble() * 7),
            Down: target == FaultTarget.Postgres ? TimeSpan.FromSeconds(10 + rng.NextDouble() * 20) : TimeSpan.FromSeconds(1 + rng.NextDouble() * 4)))
            .ToList();

        // Uploads are spread over the first two thirds of the faults' expected span, so that most faults meet work.
        var span = schedule.Sum(f => (f.Gap + f.Down).TotalSeconds + 5);
        var window = Math.Max(10, span * 2 / 3);
        var uploads = new List<ChaosUpload>(videos);
        for (var i = 0; i < videos; i++)
        {
            var tenant = Tenants[i % Tenants.Length];
            var at = TimeSpan.FromSeconds(rng.NextDouble() * window);
            if (i % 4 == 1)
            {
                // The same id as the previous upload, under the next tenant, with another clip and rate: rows that
                // crossed tenants show up as frames of the wrong clip.
                var previous = uploads[^1];
                uploads.Add(new ChaosUpload(tenant, previous.VideoId, (previous.Clip + 1) % clips,
                    Rates[(Array.IndexOf(Rates, previous.Fps) + 1) % Rates.Length], at));
            }
            else
            {
                uploads.Add(new ChaosUpload(tenant, $"{runId}-{i:00}", rng.Next(clips), Rates[rng.Next(Rates.Length)], at));
            }
        }
        return new ChaosPlan(uploads.OrderBy(u => u.At).ToList(), schedule);
    }
}
