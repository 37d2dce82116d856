using System.CommandLine;
using Vireo.Cli.Commands;

namespace Vireo.Cli;

/// <summary>The `vireo` command tree; each command lives in its own file under Commands/.</summary>
public static class VireoCommandLine
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Vireo: distributed video analysis with a vision-language model and a visual resolution router.");
        var bench = new Command("bench", "Benchmarks that print their numbers and end with a line of name=value pairs.");
        root.Subcommands.Add(bench);
        root.Subcommands.Add(AnalyzeCommand.Create());
        root.Subcommands.Add(RetryCommand.Create());
        root.Subcommands.Add(MigrateCommand.Create());
        root.Subcommands.Add(KeysCommand.Create());
        root.Subcommands.Add(SampleCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(CalibrateCommand.Create());
        root.Subcommands.Add(ProbeCommand.Create());
        root.Subcommands.Add(DemoClipCommand.Create());
        root.Subcommands.Add(TinyModelCommand.Create());
        root.Subcommands.Add(VerifyCheckpointCommand.Create());
        bench.Subcommands.Add(BenchMediaCommand.Create());
        bench.Subcommands.Add(BenchPipelineCommand.Create());
        bench.Subcommands.Add(BenchApiCommand.Create());
        bench.Subcommands.Add(BenchChaosCommand.Create());
        bench.Subcommands.Add(BenchModelCommand.Create());
        bench.Subcommands.Add(BenchDataCommand.Create());
        bench.Subcommands.Add(BenchTrainCommand.Create());
        return root;
    }
}
