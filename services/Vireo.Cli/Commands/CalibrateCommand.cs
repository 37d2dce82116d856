using System.CommandLine;
using Vireo.Model;
using Vireo.Model.Inference;
using Vireo.Model.Training.Data;
using Vireo.Model.Training.Evaluation;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo calibrate`: chooses the small model's text and shape thresholds on frames of both halves of its training mix,
/// under all-256 and ViR: real-font frames of the training side (training font families and photographs, at video
/// sizes) and synthetic frames apart from the evaluation's. With --write it keeps the thresholds in config.json.
/// </summary>
public static class CalibrateCommand
{
    public static Command Create()
    {
        var modelDir = new Option<string>("--model") { Description = "Model directory (model.safetensors + config.json).", DefaultValueFactory = _ => EvalCommand.DefaultModel() };
        var device = new Option<string>("--device") { Description = "auto | cpu | cuda", DefaultValueFactory = _ => "cpu" };
        var frames = new Option<int>("--frames") { Description = "Synthetic frames.", DefaultValueFactory = _ => 360 };
        var realFrames = new Option<int>("--real-frames") { Description = "Real-font frames of the training side.", DefaultValueFactory = _ => 360 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 11 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var write = new Option<bool>("--write") { Description = "Write the chosen thresholds into the model's config.json (vireo.text_threshold, vireo.shape_threshold)." };
        var command = new Command("calibrate",
            "Choose the text and shape thresholds on training-side real-font and synthetic frames: each the one at which the most texts, or captions, are right there.")
        {
            modelDir, device, frames, realFrames, seed, batch, write,
        };
        command.SetAction(parse =>
        {
            var directory = parse.GetValue(modelDir)!;
            var dev = TorchRuntime.ResolveDevice(parse.GetValue(device)!);
            using var engine = VireoEngine.Load(directory, dev.ToString());
            var draw = new RealFontDraw(HeldOut: false, VideoSizes: true);
            var seedValue = parse.GetValue(seed);
            var sets = new (string Name, List<SyntheticSample> Samples)[]
            {
                ($"real-font set ({draw.Description})", VireoEvaluator.RealFontSet(engine, parse.GetValue(realFrames), seedValue, draw)),
                ("synthetic set", VireoEvaluator.HeldOutSet(engine, parse.GetValue(frames), seedValue)),
            };
            engine.Language.TextThreshold = 0;
            engine.Language.ShapeThreshold = 0;
            var evaluator = new VireoEvaluator(engine, Console.WriteLine);
            var rows = new List<(string Name, EvalRow[] Rows)>();
            foreach (var (name, samples) in sets)
            {
                EvalCommand.Describe(name, samples, dev.ToString());
                rows.Add((name, [
                    evaluator.Run("all-256", RoutingPolicy.Fixed(compressed: false), samples, parse.GetValue(batch)),
                    evaluator.Run("vir", RoutingPolicy.Router(), samples, parse.GetValue(batch)),
                ]));
            }
            var text = ThresholdCalibration.ChooseText(rows.SelectMany(r => r.Rows));
            var shapes = ThresholdCalibration.ChooseShapes(rows.SelectMany(r => r.Rows));
            foreach (var (name, setRows) in rows)
            {
                Console.WriteLine();
                Console.WriteLine($"{name}:");
                Console.Write(ThresholdCalibration.Sweep(setRows, text, shapes));
            }
            var config = engine.Model.Config;
            Console.WriteLine(FormattableString.Invariant($"text_threshold={text:F2} (was {config.TextThreshold:F2}) shape_threshold={shapes:F2} (was {config.ShapeThreshold:F2})"));
            if (parse.GetValue(write))
            {
                var path = Path.Combine(directory, Model.Modules.VireoCheckpoint.ConfigFile);
                (config with { TextThreshold = text, ShapeThreshold = shapes }).Save(path);
                Console.WriteLine($"wrote {path}");
            }
            return 0;
        });
        return command;
    }
}
