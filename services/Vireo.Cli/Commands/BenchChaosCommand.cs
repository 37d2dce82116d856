using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Vireo.Cli.Commands.Chaos;
using Vireo.Media;
using Vireo.Messaging;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo bench chaos`: uploads short clips over several tenants to the running local stack while it kills silos, the
/// sink and Redis and stops Postgres at seeded random moments, then checks that every video completed with each
/// sampled frame stored exactly once, or failed with a reason, and that no row crossed tenants.
/// </summary>
public static class BenchChaosCommand
{
    private const int ClipWidth = 320, ClipHeight = 240, Clips = 3, FrameLongSide = 896;

    public static Command Create()
    {
        var videos = new Option<int>("--videos") { Description = "Videos to upload.", DefaultValueFactory = _ => 20 };
        var faults = new Option<int>("--faults") { Description = "Faults to inject.", DefaultValueFactory = _ => 20 };
        var seed = new Option<int>("--seed") { Description = "Seed of the schedule (uploads, faults, delays).", DefaultValueFactory = _ => 1 };
        var length = new Option<int>("--length") { Description = "Seconds of the shortest clip; the others are 1 and 2 s longer.", DefaultValueFactory = _ => 4 };
        var settle = new Option<int>("--settle") { Description = "Seconds to wait after the last fault for every video to reach a final state.", DefaultValueFactory = _ => 600 };
        var command = new Command("chaos", "Run videos through the local stack while killing and restarting its parts; check that nothing is lost, duplicated, stuck or crosses tenants.")
        {
            videos, faults, seed, length, settle,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var (n, f, s, len) = (r.GetValue(videos), r.GetValue(faults), r.GetValue(seed), r.GetValue(length));
            if (n < 1 || f < 0 || len is < 1 or > 60)
            {
                await Console.Error.WriteLineAsync("--videos must be at least 1, --faults at least 0 and --length between 1 and 60");
                return 2;
            }
            return await RunAsync(n, f, s, len, TimeSpan.FromSeconds(r.GetValue(settle)), ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(int videoCount, int faultCount, int seed, int length, TimeSpan settle, CancellationToken ct)
    {
        var c = CultureInfo.InvariantCulture;
        var stack = StackControl.Locate(CliServices.StateFolder());
        var runId = $"chaos{DateTime.UtcNow:MMddHHmmss}";
        var plan = ChaosPlan.Create(runId, videoCount, faultCount, Clips, seed);

        // Clips and the frames the pipeline must sample from them, computed here the way the media silo samples.
        var clips = new string[Clips];
        var expected = new Dictionary<(int Clip, double Fps), IReadOnlyList<SampledPoint>>();
        await using (var media = CliServices.Build(x => x.AddVireoMedia()))
        {
            for (var i = 0; i < Clips; i++)
            {
                clips[i] = Path.Combine(CliServices.StateFolder("bench"), $"chaos-{length + i}s-{ClipWidth}x{ClipHeight}-{i}.mp4");
                if (!File.Exists(clips[i]))
                    await DemoClipCommand.RenderAsync(clips[i], scenes: length + i, secondsPerScene: 1, ClipWidth, ClipHeight, seed: 40 + i, ct);
                foreach (var fps in ChaosPlan.Rates)
                    expected[(i, fps)] = await SampleAsync(media, clips[i], fps, ct);
            }
        }

        using var session = AnalysisSession.Open();
        using var deadLetters = session.Tail(VireoTopics.DeadLetter);
        var uploaded = new List<UploadedVideo>();
        var clock = Stopwatch.StartNew();
        string Now() => string.Create(c, $"{clock.Elapsed.TotalSeconds,7:0.0} s");
        Console.WriteLine($"run {runId}: {videoCount} videos over {ChaosPlan.Tenants.Length} tenants, {faultCount} faults, seed {seed}");

        var uploading = Task.Run(async () =>
        {
            foreach (var upload in plan.Uploads)
            {
                var wait = upload.At - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait, ct);
                var source = session.Stage(clips[upload.Clip], $"{upload.TenantId}-{upload.VideoId}");
                await session.PublishAsync(new VideoUploaded
                {
                    VideoId = upload.VideoId,
                    TenantId = upload.TenantId,
                    Source = source,
                    Options = new AnalysisRequestOptions { Sampling = new SamplingRequest { Fps = upload.Fps }, MinTiles = 1, MaxTiles = 1 },
                    SubmittedAt = DateTimeOffset.UtcNow,
                }, ct);
                lock (uploaded)
                    uploaded.Add(new UploadedVideo(upload, source, expected[(upload.Clip, upload.Fps)]));
                Console.WriteLine(string.Create(c, $"{Now()}  upload {upload.Key} (clip {upload.Clip}, {upload.Fps} fps, {expected[(upload.Clip, upload.Fps)].Count} frames)"));
            }
        }, ct);

        try
        {
            foreach (var fault in plan.Faults)
            {
                await Task.Delay(fault.Gap, ct);
                var what = await stack.StopAsync(fault.Target, ct);
                Console.WriteLine(string.Create(c, $"{Now()}  fault {fault.Number,2}: {fault.Describe()} ({what}), back in {fault.Down.TotalSeconds:0.0} s"));
                await Task.Delay(fault.Down, ct);
                var restart = Stopwatch.StartNew();
                await stack.StartAsync(fault.Target, ct);
                Console.WriteLine(string.Create(c, $"{Now()}            {fault.Target} ready again ({restart.Elapsed.TotalSeconds:0.0} s to start)"));
            }
        }
        finally
        {
            // Whatever happened, the stack is left whole.
            await stack.UpAsync(CancellationToken.None);
        }
        await uploading;
        var faultsDone = clock.Elapsed;
        Console.WriteLine($"{Now()}  all {faultCount} faults done; waiting for every video to settle");

        var db = session.Database;
        var unsettled = int.MaxValue;
        while (clock.Elapsed - faultsDone < settle)
        {
            try
            {
                unsettled = await UnsettledAsync(db, runId, uploaded, ct);
                if (unsettled == 0)
                    break;
            }
            catch (NpgsqlException)
            {
            }
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
        }
        var settledAt = clock.Elapsed;
        Console.WriteLine(unsettled == 0
            ? $"{Now()}  every video settled"
            : $"{Now()}  {unsettled} videos still unsettled after {settle.TotalSeconds:0} s");

        var verdict = ChaosCheck.Run(uploaded, await VideoRowsAsync(db, runId, ct), await FrameRowsAsync(db, runId, ct), await OwnedRowsAsync(db, runId, ct));
        foreach (var line in verdict.Lines)
            Console.WriteLine("  " + line);
        var letters = ReadDeadLetters(deadLetters, runId);
        Console.WriteLine($"dead letters of this run: {letters.Count}");
        foreach (var (reason, count) in letters.CountBy(l => l).OrderByDescending(g => g.Value).Take(10))
            Console.WriteLine($"  {count} x {reason}");
        Console.WriteLine(string.Create(c,
            $"completed {verdict.Completed}, failed {verdict.Failed}; faults over {faultsDone.TotalSeconds:0.0} s, settled at {settledAt.TotalSeconds:0.0} s"));
        Console.WriteLine($"chaos_videos={uploaded.Count} chaos_faults={plan.Faults.Count} lost_frames={verdict.Lost} duplicate_frames={verdict.Duplicates} stuck_videos={verdict.Stuck} wrong_tenant_rows={verdict.WrongTenant}");
        return verdict is { Lost: 0, Duplicates: 0, Stuck: 0, WrongTenant: 0 } ? 0 : 1;
    }

    private static async Task<IReadOnlyList<SampledPoint>> SampleAsync(ServiceProvider media, string clip, double fps, CancellationToken ct)
    {
        var info = await media.GetRequiredService<IMediaProbe>().ProbeAsync(clip, ct);
        var points = new List<SampledPoint>();
        var policy = new SamplingPolicy { FramesPerSecond = fps };
        await foreach (var frame in media.GetRequiredService<IFrameSampler>().SampleAsync(info, policy, new FrameSize(FrameLongSide, FrameLongSide, ResizeMode.Fit), null, ct))
        {
            using (frame)
                points.Add(new SampledPoint(frame.Index, frame.Timestamp.TotalSeconds));
        }
        return points;
    }

    /// <summary>How many uploads are not yet completed with all their frames stored, nor failed.</summary>
    private static async Task<int> UnsettledAsync(NpgsqlDataSource db, string runId, List<UploadedVideo> uploaded, CancellationToken ct)
    {
        var rows = (await VideoRowsAsync(db, runId, ct)).ToDictionary(v => $"{v.TenantId}/{v.VideoId}");
        var stored = (await FrameRowsAsync(db, runId, ct)).CountBy(f => $"{f.TenantId}/{f.VideoId}").ToDictionary();
        lock (uploaded)
        {
            return uploaded.Count(u => rows.GetValueOrDefault(u.Upload.Key) switch
            {
                { State: "failed" } => false,
                { State: "completed" } => stored.GetValueOrDefault(u.Upload.Key) < u.Expected.Count,
                _ => true,
            });
        }
    }

    private static async Task<List<VideoRow>> VideoRowsAsync(NpgsqlDataSource db, string runId, CancellationToken ct)
    {
        await using var command = db.CreateCommand("select tenant_id, video_id, state, reason, source, frames, attempt from videos where video_id like $1");
        command.Parameters.Add(new NpgsqlParameter { Value = runId + "-%" });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<VideoRow>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new VideoRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? null : reader.GetString(3),
                reader.IsDBNull(4) ? null : reader.GetString(4), reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.GetInt32(6)));
        }
        return rows;
    }

    private static async Task<List<FrameRow>> FrameRowsAsync(NpgsqlDataSource db, string runId, CancellationToken ct)
    {
        await using var command = db.CreateCommand("select tenant_id, video_id, frame_index, timestamp_s from frames where video_id like $1");
        command.Parameters.Add(new NpgsqlParameter { Value = runId + "-%" });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<FrameRow>();
        while (await reader.ReadAsync(ct))
            rows.Add(new FrameRow(reader.GetString(0), reader.GetString(1), reader.GetInt32(2), reader.GetDouble(3)));
        return rows;
    }

    private static async Task<List<OwnedRow>> OwnedRowsAsync(NpgsqlDataSource db, string runId, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select distinct 'segments', tenant_id, video_id from segments where video_id like $1
            union all
            select distinct 'frame_tiles', tenant_id, video_id from frame_tiles where video_id like $1
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = runId + "-%" });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<OwnedRow>();
        while (await reader.ReadAsync(ct))
            rows.Add(new OwnedRow(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        return rows;
    }

    /// <summary>The reasons of the dead letters about this run's videos, read from where the topic ended when the run began.</summary>
    private static List<string> ReadDeadLetters(Confluent.Kafka.IConsumer<string, byte[]> tail, string runId)
    {
        var reasons = new List<string>();
        var quiet = Stopwatch.StartNew();
        while (quiet.Elapsed < TimeSpan.FromSeconds(3))
        {
            var record = tail.Consume(TimeSpan.FromMilliseconds(250));
            if (record?.Message is null)
                continue;
            quiet.Restart();
            var letter = EventCodec.Deserialize<DeadLetter>(record.Message.Value, 0, _ => 0);
            if (letter.Ok && (letter.Event!.Key?.Contains(runId, StringComparison.Ordinal) ?? false))
                reasons.Add(letter.Event.Reason);
        }
        return reasons;
    }
}
