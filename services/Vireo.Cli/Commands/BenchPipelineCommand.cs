using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StackExchange.Redis;
using Vireo.Messaging;
using Vireo.Storage;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo bench pipeline`: a clip of synthetic scenes through the running pipeline (Kafka, silos, model, sink,
/// Postgres). Prints throughput, latency and time per stage, then how the pipeline's own cost per frame evolves
/// along the video and how many bytes of grain state each frame writes; the last line holds name=value pairs.
/// </summary>
public static class BenchPipelineCommand
{
    public static Command Create()
    {
        var seconds = new Option<int>("--seconds") { Description = "Clip length (default 60, or what --frames needs).", };
        var fps = new Option<double?>("--fps") { Description = "Frames per second to sample (default 2, or 25 with --frames)." };
        var frames = new Option<int?>("--frames") { Description = "Analyse this many frames: a long video, to see whether the cost per frame grows." };
        var size = new Option<string>("--size") { Description = "Clip size WIDTHxHEIGHT.", DefaultValueFactory = _ => "1280x720" };
        var model = new Option<string?>("--model")
        {
            Description = "'tiny' to run the silos with a random-weight model of the smallest shape, so the pipeline rather than the model is measured (the ./vireo launcher restarts the silos with it).",
        };
        var command = new Command("pipeline", "Time a clip through the whole running pipeline.") { seconds, fps, frames, size, model };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var frameCount = r.GetValue(frames);
            var rate = r.GetValue(fps) ?? (frameCount is null ? 2 : 25);
            var length = r.GetValue(seconds) is > 0 and var s ? s : frameCount is { } n ? (int)Math.Ceiling(n / rate) + 1 : 60;
            var (width, height) = ParseSize(r.GetValue(size)!);
            var clip = Path.Combine(CliServices.StateFolder("bench"), $"pipeline-{length}s-{width}x{height}.mp4");
            if (!File.Exists(clip))
                await DemoClipCommand.RenderAsync(clip, scenes: Math.Max(1, length / 3), secondsPerScene: 3, width: width, height: height, seed: 11, ct);

            using var session = AnalysisSession.Open();
            using var frameTail = session.Tail(VireoTopics.FramesAnalyzed);
            var videoId = $"bench-{DateTime.UtcNow:yyyyMMddHHmmss}-{Random.Shared.Next(0x10000):x4}";
            var source = session.Stage(clip, videoId);
            var clock = Stopwatch.StartNew();
            var key = new VideoKey("bench", videoId);
            await session.PublishAsync(new VideoUploaded
            {
                VideoId = key.VideoId,
                TenantId = key.TenantId,
                Source = source,
                Options = new AnalysisRequestOptions { Sampling = new SamplingRequest { Fps = rate, MaxFrames = frameCount } },
            }, ct);
            TimeSpan? firstResult = null;
            var final = session.Follow(key, st => firstResult ??= st.FramesDone > 0 ? clock.Elapsed : null, TimeSpan.FromHours(1), ct);
            var completedAt = clock.Elapsed;
            if (final.State != VideoState.Completed)
            {
                await Console.Error.WriteLineAsync($"the benchmark video failed: {final.Reason}");
                return 1;
            }
            await session.WaitStoredAsync(key, final.Result!.Frames, TimeSpan.FromMinutes(10), ct);
            var storedAt = clock.Elapsed;

            await using var services = CliServices.Build(x => x.AddVireoStorage());
            var stages = await StageTotalsAsync(services.GetRequiredService<NpgsqlDataSource>(), key, ct);
            var published = ReadPublishTimes(frameTail, key, final.Result.Frames, ct);
            var overhead = PipelineOverhead.From(published, stages.ModelMsByFrame);
            var stateBytes = await GrainStateBytesAsync(services.GetRequiredService<IConfiguration>()["ConnectionStrings:Redis"], videoId);
            // A video's grain writes its state once per frame, plus once when accepted, processing and finished.
            var statePerFrame = stateBytes * (final.Result.Frames + 3.0) / final.Result.Frames;

            var wall = storedAt.TotalSeconds;
            var count = stages.Frames;
            var sink = (storedAt - completedAt).TotalSeconds;
            // The share of the pipeline's work that is the model's: stage times summed over frames. Stages overlap
            // (decoding runs ahead, vision and language run on different silos), so these sums can exceed the wall time.
            var modelShare = (stages.Vision + stages.Language) / (stages.Decode + stages.Vision + stages.Language + sink);

            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(c, $"clip            {length} s {width}x{height}, sampled at {rate} fps: {count} frames{(r.GetValue(model) is { } m ? $", model {m}" : "")}"));
            Console.WriteLine(string.Create(c, $"end to end      {wall:0.00} s from publishing the upload to the last result queryable in Postgres"));
            Console.WriteLine(string.Create(c, $"first result    {firstResult?.TotalSeconds ?? double.NaN:0.00} s after publishing"));
            Console.WriteLine(string.Create(c, $"throughput      {count / wall:0.00} frames/s"));
            Console.WriteLine(string.Create(c, $"decode          {stages.Decode:0.00} s in all ({stages.Decode * 1000 / count:0.0} ms a frame, overlapped with the model)"));
            Console.WriteLine(string.Create(c, $"vision          {stages.Vision:0.00} s in all ({stages.Vision * 1000 / count:0.0} ms a frame)"));
            Console.WriteLine(string.Create(c, $"language        {stages.Language:0.00} s in all ({stages.Language * 1000 / count:0.0} ms a frame)"));
            Console.WriteLine(string.Create(c, $"sink            {sink:0.00} s from the completion event to the video queryable"));
            Console.WriteLine(string.Create(c, $"visual tokens   {stages.TokensBefore} -> {stages.TokensAfter} ({1 - (double)stages.TokensAfter / stages.TokensBefore:P1} removed by ViR)"));
            Console.WriteLine(string.Create(c, $"overhead        {overhead.First:0.00} ms a frame over the first 10 % of frames, {overhead.Last:0.00} ms over the last 10 % (interval between published results less the frame's model time)"));
            Console.WriteLine(string.Create(c, $"grain state     {stateBytes} bytes at the end, {statePerFrame:0} bytes written per frame"));
            Console.WriteLine(string.Create(c, $"pipeline_frames_per_s={count / wall:0.000} pipeline_latency_s={wall:0.00} model_share={modelShare:0.000}"));
            Console.WriteLine(string.Create(c, $"overhead_growth={overhead.Growth:0.000} state_bytes_per_frame={statePerFrame:0} pipeline_overhead_ms_per_frame={overhead.Mean:0.000}"));
            return 0;
        });
        return command;
    }

    private static (int Width, int Height) ParseSize(string text)
    {
        var parts = text.Split('x');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var w) || !int.TryParse(parts[1], out var h) || w is < 64 or > 3840 || h is < 64 or > 2160)
            throw new ArgumentException("--size must be WIDTHxHEIGHT between 64x64 and 3840x2160");
        return (w, h);
    }

    private sealed record StageTotals(long Frames, double Decode, double Vision, double Language, long TokensBefore, long TokensAfter, IReadOnlyDictionary<int, double> ModelMsByFrame);

    private static async Task<StageTotals> StageTotalsAsync(NpgsqlDataSource db, VideoKey video, CancellationToken ct)
    {
        await using var command = db.CreateCommand("""
            select frame_index, decode_ms, vision_ms, language_ms, tokens_before, tokens_after from frames where tenant_id = $1 and video_id = $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = video.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = video.VideoId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        long frames = 0, before = 0, after = 0;
        double decode = 0, vision = 0, language = 0;
        var model = new Dictionary<int, double>();
        while (await reader.ReadAsync(ct))
        {
            frames++;
            decode += reader.GetFloat(1);
            vision += reader.GetFloat(2);
            language += reader.GetFloat(3);
            before += reader.GetInt32(4);
            after += reader.GetInt32(5);
            model[reader.GetInt32(0)] = reader.GetFloat(2) + reader.GetFloat(3);
        }
        return new StageTotals(frames, decode / 1000, vision / 1000, language / 1000, before, after, model);
    }

    /// <summary>The time each frame's result reached Kafka (the producer's timestamp), by frame index.</summary>
    private static SortedDictionary<int, DateTime> ReadPublishTimes(IConsumer<string, byte[]> tail, VideoKey video, int frames, CancellationToken ct)
    {
        var times = new SortedDictionary<int, DateTime>();
        var deadline = Stopwatch.StartNew();
        while (times.Count < frames && deadline.Elapsed < TimeSpan.FromMinutes(2))
        {
            ct.ThrowIfCancellationRequested();
            var record = tail.Consume(TimeSpan.FromMilliseconds(250));
            if (record?.Message is null || record.Message.Key != video.ToString())
                continue;
            var decoded = EventCodec.Deserialize<FrameAnalyzed>(record.Message.Value, FrameAnalyzed.CurrentVersion, f => f.Version);
            if (decoded.Ok)
                times.TryAdd(decoded.Event!.FrameIndex, record.Message.Timestamp.UtcDateTime);
        }
        return times;
    }

    /// <summary>Size of the video grain's stored state in Redis.</summary>
    private static async Task<long> GrainStateBytesAsync(string? connectionString, string videoId)
    {
        if (string.IsNullOrEmpty(connectionString))
            return 0;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(connectionString);
        var server = redis.GetServers()[0];
        var db = redis.GetDatabase();
        long bytes = 0;
        await foreach (var key in server.KeysAsync(pattern: $"*{videoId}*"))
        {
            bytes += await db.KeyTypeAsync(key) switch
            {
                RedisType.String => await db.StringLengthAsync(key),
                RedisType.Hash => (await db.HashGetAllAsync(key)).Sum(e => (long)((byte[])e.Name!).Length + ((byte[])e.Value!).Length),
                _ => 0,
            };
        }
        return bytes;
    }
}

/// <summary>
/// The pipeline's own cost per frame: the interval between one frame's result and the previous one's, less the
/// frame's model time, averaged over the first and the last tenth of the video.
/// </summary>
internal sealed record PipelineOverhead(double First, double Last, double Mean)
{
    public double Growth => First > 0 ? Last / First : double.NaN;

    public static PipelineOverhead From(SortedDictionary<int, DateTime> published, IReadOnlyDictionary<int, double> modelMs)
    {
        var ordered = published.ToArray();
        var costs = new List<double>(ordered.Length);
        for (var i = 1; i < ordered.Length; i++)
        {
            var interval = (ordered[i].Value - ordered[i - 1].Value).TotalMilliseconds;
            costs.Add(Math.Max(0, interval - modelMs.GetValueOrDefault(ordered[i].Key)));
        }
        if (costs.Count < 10)
            return new PipelineOverhead(double.NaN, double.NaN, costs.DefaultIfEmpty(double.NaN).Average());
        var tenth = costs.Count / 10;
        return new PipelineOverhead(costs.Take(tenth).Average(), costs.TakeLast(tenth).Average(), costs.Average());
    }
}
