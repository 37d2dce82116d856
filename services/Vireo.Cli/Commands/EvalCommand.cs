using System.CommandLine;
using Vireo.Model;
using Vireo.Model.Training.Evaluation;
using Vireo.Model.Inference;

namespace Vireo.Cli.Commands;

/// <summary>`vireo eval`: all-256, ViR, all-64 and random routing on a held-out generated set.</summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var modelDir = new Option<string>("--model") { Description = "Model directory (model.safetensors + config.json).", DefaultValueFactory = _ => DefaultModel() };
        var device = new Option<string>("--device") { Description = "auto | cpu | cuda", DefaultValueFactory = _ => "cpu" };
        var frames = new Option<int>("--frames") { DefaultValueFactory = _ => 120 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 7 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var threshold = new Option<double?>("--threshold") { Description = "ViR threshold on P(compress); default from config.json." };
        var output = new Option<string?>("--report") { Description = "Also write the report to this file." };
        var show = new Option<int>("--show") { Description = "Print this many frames' expected and generated answers per mode.", DefaultValueFactory = _ => 0 };
        var dump = new Option<string?>("--dump-frames") { Description = "Write the first 12 held-out frames as PPM files with their answers here, and stop." };

        var command = new Command("eval", "Evaluate routing modes on held-out synthetic frames; the last line sums it up.")
        {
            modelDir, device, frames, seed, batch, threshold, output, dump, show,
        };
        command.SetAction(parse =>
        {
            var dev = TorchRuntime.ResolveDevice(parse.GetValue(device)!);
            using var engine = VireoEngine.Load(parse.GetValue(modelDir)!, dev.ToString());
            var samples = VireoEvaluator.HeldOutSet(engine, parse.GetValue(frames), parse.GetValue(seed));
            var withText = samples.Count(s => s.Text is not null);
            var small = samples.Count(s => s.TextSize == Vireo.Model.Training.Data.TextSize.Small);
            Console.WriteLine($"held-out set: {samples.Count} frames, {withText} with text ({small} small), {samples.Count(s => s.BusyBackground)} busy backgrounds, device {dev}");
            if (parse.GetValue(dump) is { } dumpDir)
            {
                Directory.CreateDirectory(dumpDir);
                for (var i = 0; i < Math.Min(12, samples.Count); i++)
                {
                    var f = samples[i].Frame;
                    using var stream = File.Create(Path.Combine(dumpDir, $"frame{i:D2}.ppm"));
                    stream.Write(System.Text.Encoding.ASCII.GetBytes($"P6\n{f.Width} {f.Height}\n255\n"));
                    stream.Write(f.Pixels);
                    Console.WriteLine($"frame{i:D2} {f.Width}x{f.Height} tiles {samples[i].TileCount} {samples[i].Background} {samples[i].TextSize}: {samples[i].Answer}");
                }
                return 0;
            }
            var evaluator = new VireoEvaluator(engine, Console.WriteLine);
            var b = parse.GetValue(batch);
            // Warm up kernels and allocators so the first mode's frames/s is not penalised.
            engine.Analyze([samples[0].Frame], RoutingPolicy.Fixed(compressed: false));
            var full = evaluator.Run("all-256", RoutingPolicy.Fixed(compressed: false), samples, b);
            var vir = evaluator.Run("vir", RoutingPolicy.Router(parse.GetValue(threshold)), samples, b);
            var all64 = evaluator.Run("all-64", RoutingPolicy.Fixed(compressed: true), samples, b);
            var random = evaluator.Run("random", RoutingPolicy.Random(vir.CompressedTileFraction, seed: 12345), samples, b);
            foreach (var row in new[] { full, vir, all64, random })
                foreach (var o in row.Frames.Take(parse.GetValue(show)))
                    Console.WriteLine($"  [{row.Mode}] {o.Sample.TextSize,-5} expected: {o.Sample.Answer} | got: {o.Output}");
            var report = VireoEvaluator.Report([full, vir, all64, random], dev.type == TorchSharp.DeviceType.CPU);
            if (dev.type == TorchSharp.DeviceType.CUDA && GpuMemory.Read(Math.Max(0, (int)dev.index)) is { } memory)
                Console.WriteLine($"GPU memory: {memory.Used / (1 << 20)} MiB used of {memory.Total / (1 << 20)} MiB");
            Console.WriteLine();
            Console.WriteLine(report);
            if (parse.GetValue(output) is { } path) File.WriteAllText(path, report + Environment.NewLine);
            return 0;
        });
        return command;
    }

    private static string DefaultModel() =>
        Path.Combine(AppContext.BaseDirectory, "checkpoints", "vireo-small");
}
