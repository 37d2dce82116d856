using System.CommandLine;
using Vireo.Model;
using Vireo.Model.Inference;
using Vireo.Model.Training.Evaluation;

namespace Vireo.Cli.Commands;

/// <summary>`vireo probe`: how much of each glyph the encoder, the 256-token path and the 64-token path keep (<see cref="GlyphProbe"/>).</summary>
public static class ProbeCommand
{
    public static Command Create()
    {
        var modelDir = new Option<string>("--model") { Description = "Model directory (model.safetensors + config.json).", DefaultValueFactory = _ => EvalCommand.DefaultModel() };
        var frames = EvalCommand.Positive("--frames", "Single-tile real-font frames of the training side the probes learn from.", 600);
        var testFrames = EvalCommand.Positive("--test-frames", "Frames of the held-out side the probes are scored on.", 300);
        var epochs = EvalCommand.Positive("--epochs", "Full-batch steps of each probe.", 300);
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 5 };
        var command = new Command("probe",
            "Train linear probes to name the glyph under each patch from the encoder's features and from the 256- and 64-token paths' tokens; score them on held-out fonts, small and large text apart.")
        {
            modelDir, frames, testFrames, epochs, seed,
        };
        command.SetAction(parse =>
        {
            using var engine = VireoEngine.Load(parse.GetValue(modelDir)!, "cpu");
            var scores = GlyphProbe.Run(engine.Model, parse.GetValue(frames), parse.GetValue(testFrames), parse.GetValue(seed), epochs: parse.GetValue(epochs));
            Console.WriteLine(GlyphProbe.Report(scores));
            return 0;
        });
        return command;
    }
}
