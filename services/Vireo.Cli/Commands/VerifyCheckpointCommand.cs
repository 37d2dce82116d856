using System.CommandLine;
using System.Globalization;
using Vireo.Model;
using Vireo.Model.Parity;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo verify-checkpoint DIR`: runs a checkpoint directory against the reference outputs recorded beside it and
/// ends with `max_logit_diff=… greedy_match=k/n router_match=k/n tokenizer_mismatches=m`.
/// </summary>
public static class VerifyCheckpointCommand
{
    public static Command Create()
    {
        var directory = new Argument<string>("dir") { Description = "Checkpoint directory with reference.safetensors and reference.json beside the weights." };
        var device = new Option<string>("--device") { Description = "cpu, cuda, cuda:N or auto.", DefaultValueFactory = _ => "auto" };
        var dtype = new Option<string?>("--dtype") { Description = "float32 or bfloat16 (default: every dtype the reference records, in turn)." };
        var tokenizerReference = new Option<string?>("--tokenizer-reference")
        {
            Description = "tokenizer_reference.json (strings and Hugging Face's ids) to check the checkpoint's tokenizer against; default: beside DIR.",
        };
        var tokenizer = new Option<string?>("--tokenizer")
        {
            Description = "Folder with Qwen3's tokenizer.json when the checkpoint has none (e.g. $VIREO_STATE/cache/tokenizer-qwen3).",
        };
        var command = new Command("verify-checkpoint", "Compare a checkpoint with the PyTorch reference outputs recorded beside it.")
        {
            directory, device, dtype, tokenizerReference, tokenizer,
        };
        command.SetAction((ParseResult r) =>
        {
            var dir = Path.GetFullPath(r.GetValue(directory)!);
            var dev = TorchRuntime.ResolveDevice(r.GetValue(device)!);
            var dtypes = r.GetValue(dtype) is { } one ? [one] : ReferenceCheck.RecordedDTypes(dir);
            var results = new List<ParityResult>();
            foreach (var t in dtypes)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var result = ReferenceCheck.Run(dir, t, dev, r.GetValue(tokenizer));
                results.Add(result);
                Console.WriteLine($"{result.Describe()} ({clock.Elapsed.TotalSeconds:F1} s on {dev})");
            }
            var mismatches = TokenizerCheck.Mismatches(dir, r.GetValue(tokenizerReference), r.GetValue(tokenizer));
            var last = results[^1];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"max_logit_diff={last.MaxLogitDiff:G3} greedy_match={last.GreedyMatch}/{last.GreedyCount} " +
                $"router_match={last.RouterMatch}/{last.RouterCount} tokenizer_mismatches={(mismatches is { } m ? m.ToString(CultureInfo.InvariantCulture) : "n/a")}"));
            return results.All(x => x.Passed) && mismatches is null or 0 ? 0 : 1;
        });
        return command;
    }
}
