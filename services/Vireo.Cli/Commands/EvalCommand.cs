using System.CommandLine;
using Vireo.Model;
using Vireo.Model.Configuration;
using Vireo.Model.Training.Data;
using Vireo.Model.Training.Evaluation;
using Vireo.Model.Inference;

namespace Vireo.Cli.Commands;

/// <summary>`vireo eval`: all-256, ViR, all-64 and random routing on the held-out synthetic and real-font sets.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var modelDir = new Option<string>("--model") { Description = "Model directory (model.safetensors + config.json).", DefaultValueFactory = _ => DefaultModel() };
        var device = new Option<string>("--device") { Description = "auto | cpu | cuda", DefaultValueFactory = _ => "cpu" };
        var frames = FramesOption("--frames", "Frames of the synthetic set.", 120);
        var realFrames = FramesOption("--real-frames", "Frames of the real-font set (held-out fonts and photographs).", 360);
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 7 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var threshold = new Option<double?>("--threshold") { Description = "ViR threshold on P(compress); default from config.json." };
        var textThreshold = ThresholdOption("--text-threshold", "Least text confidence at which a text read is reported (0 reports all); default from config.json.");
        var shapeThreshold = ThresholdOption("--shape-threshold", "Least confidence at which a shape named is reported (0 reports all); default from config.json.");
        var output = new Option<string?>("--report") { Description = "Also write the report to this file." };
        var show = new Option<int>("--show") { Description = "Print this many frames' expected and generated answers per mode.", DefaultValueFactory = _ => 0 };
        var realFonts = new Option<string>("--real-fonts") { Description = "Fonts and photographs of the real-font set: held-out (the published set) | training.", DefaultValueFactory = _ => "held-out" };
        realFonts.AcceptOnlyFromAmong("held-out", "training");
        var realSizes = new Option<string>("--real-sizes") { Description = "Frame sizes of the real-font set: video (the published set) | training | video-at-tile-scale (the published set's frames drawn at their tile grid's scale, as `vireo train --draw-at-tile-scale` draws).", DefaultValueFactory = _ => "video" };
        realSizes.AcceptOnlyFromAmong("video", "training", "video-at-tile-scale");
        var maxTiles = MaxTilesOption("Analyse each frame in at most this many tiles (default: the checkpoint's own limit). The frames are still drawn, and their text sized, for the checkpoint's limit, so more tiles show the same text larger.");
        var dump = new Option<string?>("--dump-frames") { Description = "Write the first 12 frames of each held-out set as PNG files with their answers here, and stop." };

        var command = new Command("eval", "Evaluate routing modes on the held-out synthetic and real-font sets; the last line sums up the real-font set.")
        {
            modelDir, device, frames, realFrames, realFonts, realSizes, seed, batch, threshold, textThreshold, shapeThreshold, maxTiles, output, dump, show,
        };
        command.SetAction(parse =>
        {
            var dev = TorchRuntime.ResolveDevice(parse.GetValue(device)!);
            using var engine = VireoEngine.Load(parse.GetValue(modelDir)!, dev.ToString());
            if (parse.GetValue(textThreshold) is { } text) engine.Language.TextThreshold = text;
            if (parse.GetValue(shapeThreshold) is { } shapes) engine.Language.ShapeThreshold = shapes;
            var synthetic = VireoEvaluator.HeldOutSet(engine, parse.GetValue(frames), parse.GetValue(seed));
            var sizes = parse.GetValue(realSizes);
            var draw = new RealFontDraw(HeldOut: parse.GetValue(realFonts) == "held-out", VideoSizes: sizes != "training", AtTileScale: sizes == "video-at-tile-scale");
            var realFont = VireoEvaluator.RealFontSet(engine, parse.GetValue(realFrames), parse.GetValue(seed), draw);
            Describe("synthetic set", synthetic, dev.ToString());
            Describe("real-font set", realFont, dev.ToString());
            if (parse.GetValue(dump) is { } dumpDir)
            {
                Directory.CreateDirectory(dumpDir);
                foreach (var (name, set) in new[] { ("synthetic", synthetic), ("real", realFont) })
                    for (var i = 0; i < Math.Min(12, set.Count); i++)
                    {
                        var s = set[i];
                        FramePng.Write(s.Frame, Path.Combine(dumpDir, $"{name}{i:D2}.png"));
                        Console.WriteLine($"{name}{i:D2} {s.Frame.Width}x{s.Frame.Height} tiles {s.TileCount} {s.Background} {s.TextSize} {s.FontFamily}: {s.Answer}");
                    }
                return 0;
            }
            var tiles = parse.GetValue(maxTiles);
            var tiling = new Tiling(tiles ?? engine.Model.Config.MaxDynamicPatch, engine.Model.Config.MaxDynamicPatch);
            var evaluator = new VireoEvaluator(engine, Console.WriteLine) { MaxTiles = tiles };
            var b = parse.GetValue(batch);
            // Warm up kernels and allocators so the first mode's frames/s is not penalised.
            engine.Analyze([synthetic[0].Frame], RoutingPolicy.Fixed(compressed: false), maxTiles: tiles);
            IReadOnlyList<EvalRow> Modes(string name, List<SyntheticSample> samples)
            {
                Console.WriteLine($"{name}:");
                var full = evaluator.Run("all-256", RoutingPolicy.Fixed(compressed: false), samples, b);
                var vir = evaluator.Run("vir", RoutingPolicy.Router(parse.GetValue(threshold)), samples, b);
                var all64 = evaluator.Run("all-64", RoutingPolicy.Fixed(compressed: true), samples, b);
                var random = evaluator.Run("random", RoutingPolicy.Random(vir.CompressedTileFraction, seed: 12345), samples, b);
                EvalRow[] rows = [full, vir, all64, random];
                foreach (var row in rows)
                    foreach (var o in row.Frames.Take(parse.GetValue(show)))
                        Console.WriteLine($"  [{row.Mode}] {o.Sample.TextSize,-5} expected: {o.Sample.Answer} | got: {o.Output}");
                return rows;
            }
            var syntheticRows = Modes("synthetic set", synthetic);
            var realRows = Modes("real-font set", realFont);
            var report = VireoEvaluator.Report(syntheticRows, realRows, dev.type == TorchSharp.DeviceType.CPU, draw, engine.Language.TextThreshold, engine.Language.ShapeThreshold, tiling);
            if (dev.type == TorchSharp.DeviceType.CUDA && GpuMemory.Read(Math.Max(0, (int)dev.index)) is { } memory)
                Console.WriteLine($"GPU memory: {memory.Used / (1 << 20)} MiB used of {memory.Total / (1 << 20)} MiB");
            Console.WriteLine();
            Console.WriteLine(report);
            if (parse.GetValue(output) is { } path) File.WriteAllText(path, report + Environment.NewLine);
            return 0;
        });
        return command;
    }

    /// <summary>A set's size: both sets are evaluated and reported, so each needs a frame at least.</summary>
    private static Option<int> FramesOption(string name, string description, int frames) =>
        Positive(name, description, frames, ": both sets are evaluated and reported");

    /// <summary>A count of at least 1, refused below with <paramref name="reason"/> after the message.</summary>
    internal static Option<int> Positive(string name, string description, int value, string reason = "")
    {
        var option = new Option<int>(name) { Description = description, DefaultValueFactory = _ => value };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError($"{name} must be at least 1{reason}.");
        });
        return option;
    }

    /// <summary>`--max-tiles`: the most tiles a frame is cut into, refused outside what an analysis request may ask.</summary>
    internal static Option<int?> MaxTilesOption(string description)
    {
        var option = new Option<int?>("--max-tiles") { Description = description };
        option.Validators.Add(result =>
        {
            if (AnalysisLimits.CheckTiles(null, result.GetValueOrDefault<int?>()) is not null) result.AddError($"--max-tiles must be between 1 and {AnalysisLimits.MaxTiles}.");
        });
        return option;
    }

    /// <summary>An optional confidence threshold, refused outside [0, 1) as config.json's are.</summary>
    private static Option<double?> ThresholdOption(string name, string description)
    {
        var option = new Option<double?>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is { } value && !ModelConfig.IsThreshold(value)) result.AddError($"{name} must be at least 0 and below 1.");
        });
        return option;
    }

    /// <summary>Prints a set's name and what it holds: frames, text, small text, empty frames, busy backgrounds.</summary>
    internal static void Describe(string name, List<SyntheticSample> set, string device) =>
        Console.WriteLine($"{name}: {set.Count} frames, {set.Count(s => s.Text is not null)} with text ({set.Count(s => s.TextSize == TextSize.Small)} small), " +
            $"{set.Count(s => s.Text is null && s.ShapeCount == 0)} with neither text nor shapes, {set.Count(s => s.BusyBackground)} busy backgrounds, device {device}");

    internal static string DefaultModel() =>
        Path.Combine(AppContext.BaseDirectory, "checkpoints", "vireo-small");
}
