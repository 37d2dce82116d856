using System.CommandLine;
using Vireo.Model;
using Vireo.Model.Modules;
using Vireo.Model.Training;
using static Vireo.Cli.Commands.BenchModelCommand;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo bench train`: a stage-1 step of the trainer with the data taken out, the vision encoder's part of it, and
/// the host's time to prepare a batch beside it; says which one sets the pace of training.
/// </summary>
public static class BenchTrainCommand
{
    public static Command Create()
    {
        var modelDir = new Option<string>("--model") { Description = "Model directory to time (its weights train, in memory only).", DefaultValueFactory = _ => EvalCommand.DefaultModel() };
        var device = new Option<string>("--device") { Description = "auto | cpu | cuda", DefaultValueFactory = _ => "auto" };
        var steps = new Option<int>("--steps") { Description = "Steps timed (after an untimed one).", DefaultValueFactory = _ => 8 };
        var mix = new TrainingMixOptions(smallTextDefault: 0.5);
        var bf16 = new Option<bool>("--bf16-attention") { Description = "As `vireo train --bf16-attention`." };
        var tokenReading = new Option<double>("--token-reading-weight") { Description = "As `vireo train --token-reading-weight`: the step also trains the token probe on the 256-token path.", DefaultValueFactory = _ => 0.0 };
        var command = new Command("train", "Time a stage-1 training step without data waits, the vision encoder's share of it, and the host's time to prepare a batch.")
        {
            modelDir, device, steps, bf16, tokenReading,
        };
        foreach (var option in mix.All) command.Options.Add(option);
        command.SetAction(parse =>
        {
            var dev = TorchRuntime.ResolveDevice(parse.GetValue(device)!);
            using var model = VireoCheckpoint.Load(parse.GetValue(modelDir)!);
            var options = mix.Read(parse) with { Bf16Attention = parse.GetValue(bf16), TokenReadingWeight = parse.GetValue(tokenReading) };
            var r = TrainingBench.Run(model, options, dev, Math.Max(1, parse.GetValue(steps)));
            Console.WriteLine(Inv($"device {dev}{(dev.type == TorchSharp.DeviceType.CUDA ? $" ({GpuName()})" : "")}; {model.ParameterCount():N0} parameters, batch {options.BatchSize} frames ({r.TilesPerStep:F0} tiles), {r.Steps} steps timed"));
            Console.WriteLine(Inv($"stage-1 step   {r.StepMs,8:F1} ms  ({r.TilesPerSecond:F0} tiles/s with no wait for data)"));
            Console.WriteLine(Inv($"  vision fwd+bwd {r.VisionForwardBackwardMs,6:F1} ms  ({r.VisionForwardBackwardMs / r.StepMs:P0} of the step); forward alone {r.VisionForwardMs:F1} ms"));
            Console.WriteLine(Inv($"host batch     {r.HostBatchMs,8:F1} ms on {r.HostThreads} threads: {(r.HostBatchMs > r.StepMs ? "the host sets the pace: training waits for data" : "the device sets the pace")}"));
            Console.WriteLine(Inv($"  drawing      {r.HostDrawMs,8:F1} ms of it (frames and reading labels; the rest is tiling and staging for the device)"));
            Console.WriteLine(Inv($"train_step_ms={r.StepMs:F1} train_tiles_per_s={r.TilesPerSecond:F0} vision_fwd_bwd_ms={r.VisionForwardBackwardMs:F1} vision_fwd_ms={r.VisionForwardMs:F1} host_batch_ms={r.HostBatchMs:F1} host_draw_ms={r.HostDrawMs:F1} host_threads={r.HostThreads} tiles_per_step={r.TilesPerStep:F0}"));
            return 0;
        });
        return command;
    }
}
