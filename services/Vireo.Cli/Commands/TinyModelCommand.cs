using System.CommandLine;
using Vireo.Model;

namespace Vireo.Cli.Commands;

/// <summary>`vireo tiny-model --out DIR`: a random-weight model of the smallest shape, to measure the pipeline around the model.</summary>
public static class TinyModelCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Checkpoint directory to write (config.json, model.safetensors).", Required = true };
        var seed = new Option<int>("--seed") { Description = "Seed of the random weights.", DefaultValueFactory = _ => 0 };
        var command = new Command("tiny-model", "Write a random-weight model of the smallest shape the code accepts; it answers nonsense, quickly.") { output, seed };
        command.SetAction((ParseResult r) =>
        {
            var directory = Path.GetFullPath(r.GetValue(output)!);
            TinyModel.Write(directory, r.GetValue(seed));
            Console.WriteLine($"wrote {directory}");
            return 0;
        });
        return command;
    }
}
