using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Vireo.Messaging;
using Vireo.Storage;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo bench pipeline`: a 60-second 1280×720 clip at 2 fps through the running pipeline (Kafka, silos, model,
/// sink, Postgres). Prints throughput, latency and time per stage; the last line holds name=value pairs.
/// </summary>
public static class BenchPipelineCommand
{
    public static Command Create()
    {
        var seconds = new Option<int>("--seconds") { Description = "Clip length.", DefaultValueFactory = _ => 60 };
        var fps = new Option<double>("--fps") { Description = "Frames per second to sample.", DefaultValueFactory = _ => 2 };
        var command = new Command("pipeline", "Time a 60 s 1280x720 clip at 2 fps through the whole running pipeline.") { seconds, fps };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var length = r.GetValue(seconds);
            var clip = Path.Combine(CliServices.StateFolder("bench"), $"pipeline-{length}s-1280x720.mp4");
            if (!File.Exists(clip))
                await DemoClipCommand.RenderAsync(clip, scenes: Math.Max(1, length / 3), secondsPerScene: 3, width: 1280, height: 720, seed: 11, ct);

            using var session = AnalysisSession.Open();
            var videoId = $"bench-{DateTime.UtcNow:yyyyMMddHHmmss}-{Random.Shared.Next(0x10000):x4}";
            var source = session.Stage(clip, videoId);
            var clock = Stopwatch.StartNew();
            await session.PublishAsync(new VideoUploaded
            {
                VideoId = videoId,
                TenantId = "bench",
                Source = source,
                Options = new AnalysisRequestOptions { Sampling = new SamplingRequest { Fps = r.GetValue(fps) } },
            }, ct);
            TimeSpan? firstResult = null;
            var final = session.Follow(videoId, s => firstResult ??= s.FramesDone > 0 ? clock.Elapsed : null, TimeSpan.FromHours(1), ct);
            var completedAt = clock.Elapsed;
            if (final.State != VideoState.Completed)
            {
                await Console.Error.WriteLineAsync($"the benchmark video failed: {final.Reason}");
                return 1;
            }
            var stored = await session.WaitStoredAsync(videoId, final.Result!.Frames, TimeSpan.FromMinutes(5), ct);
            var storedAt = clock.Elapsed;

            await using var services = CliServices.Build(s => s.AddVireoStorage());
            await using var command = services.GetRequiredService<NpgsqlDataSource>().CreateCommand(
                "select count(*), sum(decode_ms), sum(vision_ms), sum(language_ms), sum(tokens_before), sum(tokens_after) from frames where video_id = $1");
            command.Parameters.Add(new NpgsqlParameter { Value = videoId });
            await using var reader = await command.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            var frames = reader.GetInt64(0);
            double decode = reader.GetDouble(1) / 1000, vision = reader.GetDouble(2) / 1000, language = reader.GetDouble(3) / 1000;
            long before = reader.GetInt64(4), after = reader.GetInt64(5);
            var wall = storedAt.TotalSeconds;
            var sink = (storedAt - completedAt).TotalSeconds;
            // The share of the pipeline's work that is the model's: stage times summed over frames. Stages overlap
            // (decoding runs ahead, vision and language run on different silos), so these sums can exceed the wall time.
            var modelShare = (vision + language) / (decode + vision + language + sink);

            var c = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(c, $"clip            {length} s 1280x720, sampled at {r.GetValue(fps)} fps: {frames} frames"));
            Console.WriteLine(string.Create(c, $"end to end      {wall:0.00} s from publishing the upload to the last result queryable in Postgres"));
            Console.WriteLine(string.Create(c, $"first result    {firstResult?.TotalSeconds ?? double.NaN:0.00} s after publishing"));
            Console.WriteLine(string.Create(c, $"throughput      {frames / wall:0.00} frames/s"));
            Console.WriteLine(string.Create(c, $"decode          {decode:0.00} s in all ({decode * 1000 / frames:0.0} ms a frame, overlapped with the model)"));
            Console.WriteLine(string.Create(c, $"vision          {vision:0.00} s in all ({vision * 1000 / frames:0.0} ms a frame)"));
            Console.WriteLine(string.Create(c, $"language        {language:0.00} s in all ({language * 1000 / frames:0.0} ms a frame)"));
            Console.WriteLine(string.Create(c, $"sink            {sink:0.00} s from the completion event to the video queryable"));
            Console.WriteLine(string.Create(c, $"visual tokens   {before} -> {after} ({1 - (double)after / before:P1} removed by ViR)"));
            Console.WriteLine(string.Create(c, $"overlap         model stages busy {(vision + language) / wall:0.00}x the wall time (vision and language silos work in parallel)"));
            Console.WriteLine(string.Create(c, $"pipeline_frames_per_s={frames / wall:0.000} pipeline_latency_s={wall:0.00} model_share={modelShare:0.000}"));
            return 0;
        });
        return command;
    }
}
