using System.CommandLine;
using System.Diagnostics;
using Vireo.Model.Configuration;
using Vireo.Model.Training;
using static Vireo.Cli.Commands.BenchModelCommand;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo bench data`: how fast the CPU draws, tiles and labels training batches (the trainer's own code, at its mix
/// of real and synthetic frames), on one thread and on many, with the garbage collector's share of the time. The
/// rate on many threads, against what the GPU takes in a second, says whether training waits for data.
/// </summary>
public static class BenchDataCommand
{
    public static Command Create()
    {
        var threads = new Option<int[]>("--threads") { Description = "Thread counts to measure (default: 1 and every core).", AllowMultipleArgumentsPerToken = true };
        var frames = new Option<int>("--frames") { Description = "Frames timed per thread count.", DefaultValueFactory = _ => 256 };
        var mix = new TrainingMixOptions(smallTextDefault: 0.4);
        var model = new Option<string?>("--config") { Description = "config.json of the model trained (its tiler and patch size); default the shipped model's." };
        var command = new Command("data", "Rate at which the CPU prepares training batches (draw, tile, label), on 1 and on all threads.")
        {
            threads, frames, model,
        };
        foreach (var option in mix.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var config = ModelConfig.Load(parse.GetValue(model) ?? Path.Combine(AppContext.BaseDirectory, "checkpoints", "vireo-small", "config.json"));
            var counts = parse.GetValue(threads) is { Length: > 0 } given ? given : [1, Environment.ProcessorCount];
            var options = mix.Read(parse);
            var steps = Math.Max(1, (parse.GetValue(frames) + options.BatchSize - 1) / options.BatchSize);
            var tiler = Model.Imaging.DynamicTiler.For(config);
            Console.WriteLine(Inv($"{Environment.ProcessorCount} cores, server GC {System.Runtime.GCSettings.IsServerGC}; batches of {options.BatchSize}, {options.RealFraction:P0} real frames{(options.VideoSizes ? " (with 1080p sizes)" : "")}{(options.DataEcho > 1 ? $", each in {options.DataEcho} batches" : "")}, {steps} batches per thread count; tiles cut on the {(options.TilesOnDevice ? "device (the host stages 8-bit frames)" : "host")}"));
            var results = new List<Rate>();
            foreach (var count in counts)
            {
                var batches = new TrainingBatches(options, tiler, config.PatchSize) { MaxThreads = count };
                // The step before the timed ones: warms up, and with data echo draws the frames the first timed batch shares.
                Measure(batches, FirstTimedStep - 1, 1);
                var rate = Measure(batches, FirstTimedStep, steps) with { Threads = count };
                results.Add(rate);
                Console.WriteLine(Inv($"{count,3} threads: {rate.FramesPerSecond,6:F1} frames/s {rate.TilesPerSecond,7:F1} tiles/s; thread time per frame: draw {rate.DrawMs:F1} ms, tile {rate.TileMs:F1} ms, label {rate.LabelMs:F1} ms; GC paused {rate.GcPauseShare:P0} of the time, {rate.AllocatedMbPerFrame:F1} MB allocated a frame"));
            }
            var one = results.FirstOrDefault(r => r.Threads == 1) ?? results[0];
            var most = results.MaxBy(r => r.Threads)!;
            var efficiency = most.FramesPerSecond / (one.FramesPerSecond * most.Threads / one.Threads);
            Console.WriteLine(Inv($"data_frames_per_s={most.FramesPerSecond:F1} data_tiles_per_s={most.TilesPerSecond:F1} threads={most.Threads} parallel_efficiency={efficiency:F2} gc_pause_share={most.GcPauseShare:F2} draw_ms={one.DrawMs:F1} tile_ms={one.TileMs:F1}"));
            return 0;
        });
        return command;
    }

    private sealed record Rate(int Threads, double FramesPerSecond, double TilesPerSecond, double DrawMs, double TileMs, double LabelMs, double GcPauseShare, double AllocatedMbPerFrame);

    /// <summary>Stage-1 step of the first timed batch, past any curriculum.</summary>
    private const int FirstTimedStep = 1_000_000;

    /// <summary>Prepares <paramref name="steps"/> stage-1 batches from step <paramref name="first"/>, as the trainer does, timing each part.</summary>
    private static Rate Measure(TrainingBatches batches, int first, int steps)
    {
        var pause = GC.GetTotalPauseDuration();
        var allocated = GC.GetTotalAllocatedBytes(precise: false);
        var wall = Stopwatch.StartNew();
        double draw = 0, tile = 0, label = 0;
        long frames = 0, tiles = 0;
        for (var step = 0; step < steps; step++)
        {
            using var scope = TorchSharp.torch.NewDisposeScope();
            var part = Stopwatch.StartNew();
            var samples = batches.Samples(1, first + step);
            draw += part.Elapsed.TotalSeconds;
            part.Restart();
            var batch = batches.Tile(samples.Select(s => s.Frame).ToList()).Stage(TorchSharp.torch.CPU);
            tile += part.Elapsed.TotalSeconds;
            part.Restart();
            batches.Labels(samples);
            label += part.Elapsed.TotalSeconds;
            frames += samples.Count;
            tiles += batch.TotalTiles;
            // Host tiles are already a tensor; frames left to the device are not resized here.
            if (!batches.TilesOnDevice) batch.ToTensor(TorchSharp.torch.CPU).Dispose();
        }
        var seconds = Math.Max(1e-9, wall.Elapsed.TotalSeconds);
        var threads = Math.Max(1, batches.MaxThreads);
        // Wall time of a part, times its threads, per frame: the CPU time one frame costs in that part.
        double PerFrame(double s) => frames == 0 ? 0 : s * 1000 * threads / frames;
        return new Rate(threads, frames / seconds, tiles / seconds, PerFrame(draw), PerFrame(tile), PerFrame(label),
            (GC.GetTotalPauseDuration() - pause).TotalSeconds / seconds,
            frames == 0 ? 0 : (GC.GetTotalAllocatedBytes(precise: false) - allocated) / 1e6 / frames);
    }
}
