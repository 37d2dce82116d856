using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using TorchSharp;
using Vireo.Model;
using Vireo.Model.Configuration;
using Vireo.Model.Inference;
using Vireo.Model.Modules;
using Vireo.Model.Text;
using static TorchSharp.torch;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo bench model --device cuda --shape 2b --shape 8b`: Vireo's model at InternVL3.5-Flash's real shapes with random
/// weights in bfloat16, beside Hugging Face transformers running the same shapes on the same kind of input in the same
/// run (<c>infra/scripts/bench_model_hf.py</c>). Ends with one line of ratios a shape, the last for the last shape.
/// </summary>
public static class BenchModelCommand
{
    /// <summary>Text tokens around the image in every prompt: InternVL's system turn and question are about this long.</summary>
    internal const int PrefixTokens = 40, SuffixTokens = 20;

    public static Command Create()
    {
        var device = new Option<string>("--device") { Description = "cuda, cuda:N or cpu.", DefaultValueFactory = _ => "cuda" };
        var shapes = new Option<string[]>("--shape")
        {
            Description = "2b and/or 8b (repeat the option); the last one's figures make the last line.",
            DefaultValueFactory = _ => ["2b", "8b"],
        };
        var tiles = new Option<int>("--tiles") { Description = "Tiles a frame.", DefaultValueFactory = _ => 7 };
        var batch = new Option<int>("--batch") { Description = "Frames a batch.", DefaultValueFactory = _ => 16 };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens generated a frame.", DefaultValueFactory = _ => 64 };
        var runs = new Option<int>("--runs") { Description = "Timed runs of each measurement; the median counts.", DefaultValueFactory = _ => 3 };
        var hfScript = new Option<string?>("--hf-script")
        {
            Description = "The transformers side; none to skip it.",
            DefaultValueFactory = _ => Path.Combine("infra", "scripts", "bench_model_hf.py"),
        };
        var python = new Option<string>("--python") { Description = "Python with torch and transformers.", DefaultValueFactory = _ => "python3" };
        var agreement = new Option<string[]>("--check-batching")
        {
            Description = "Instead of timing: for each dtype given (float32, bfloat16), whether each frame's greedy tokens are the same decoded in the batch and alone.",
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("model", "Vision, prefill, first-token and whole-frame throughput at InternVL3.5's real shapes, beside Hugging Face transformers.")
        {
            device, shapes, tiles, batch, newTokens, runs, hfScript, python, agreement,
        };
        command.SetAction((ParseResult r) =>
        {
            var dev = TorchRuntime.ResolveDevice(r.GetValue(device)!);
            var settings = new ModelBenchSettings(r.GetValue(tiles), r.GetValue(batch), r.GetValue(newTokens), Math.Max(1, r.GetValue(runs)));
            Console.WriteLine(Inv($"device {dev}{(dev.type == DeviceType.CUDA ? $" ({GpuName()})" : "")}; {settings.Tiles} tiles a frame, batch {settings.Batch}, {settings.NewTokens} new tokens, median of {settings.Runs} runs"));
            var lines = new List<string>();
            if (r.GetValue(agreement) is { Length: > 0 } dtypes)
            {
                foreach (var shape in r.GetValue(shapes)!)
                    foreach (var dtype in dtypes)
                    {
                        using var bench = new ModelBench(shape, dev, settings, dtype == "float32" ? ScalarType.Float32 : ScalarType.BFloat16);
                        var (same, frames, first) = bench.BatchAgreement();
                        Console.WriteLine(Inv($"{shape} {dtype}: {same} of {frames} frames decode the same {settings.NewTokens} tokens in a batch of {frames} as alone{(first is { } k ? $"; the first difference at token {k}" : "")}"));
                    }
                return 0;
            }
            foreach (var shape in r.GetValue(shapes)!)
            {
                var reference = r.GetValue(hfScript) is { Length: > 0 } script
                    ? RunTransformers(r.GetValue(python)!, script, shape, settings, dev)
                    : null;
                using var bench = new ModelBench(shape, dev, settings);
                var ours = bench.Measure();
                lines.Add(ModelBenchReport.Print(shape, ours, reference, settings));
            }
            foreach (var line in lines) Console.WriteLine(line);
            return 0;
        });
        return command;
    }

    private static JsonElement? RunTransformers(string python, string script, string shape, ModelBenchSettings s, Device device)
    {
        if (!File.Exists(script))
        {
            Console.WriteLine($"transformers: {script} not found; its side is skipped");
            return null;
        }
        var start = new ProcessStartInfo(python)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     script, "--shape", shape, "--tiles", Inv($"{s.Tiles}"), "--batch", Inv($"{s.Batch}"), "--new-tokens", Inv($"{s.NewTokens}"),
                     "--runs", Inv($"{s.Runs}"), "--prefix", Inv($"{PrefixTokens}"), "--suffix", Inv($"{SuffixTokens}"),
                     "--image-token", Inv($"{CharTokenizer.ImageContext}"), "--image-start", Inv($"{CharTokenizer.ImageStart}"),
                     "--image-end", Inv($"{CharTokenizer.ImageEnd}"), "--device", device.ToString(),
                 })
            start.ArgumentList.Add(arg);
        Console.WriteLine($"transformers ({shape}): {python} {string.Join(' ', start.ArgumentList)}");
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}");
        string? last = null;
        while (process.StandardOutput.ReadLine() is { } line)
        {
            Console.WriteLine($"  hf | {line}");
            if (line.StartsWith('{')) last = line;
        }
        process.WaitForExit();
        if (process.ExitCode != 0 || last is null)
        {
            Console.WriteLine($"transformers exited with code {process.ExitCode}; its side is skipped");
            return null;
        }
        return JsonDocument.Parse(last).RootElement.Clone();
    }

    internal static string GpuName()
    {
        try
        {
            using var smi = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=name --format=csv,noheader") { RedirectStandardOutput = true });
            var name = smi?.StandardOutput.ReadLine();
            smi?.WaitForExit();
            return name ?? "unknown GPU";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown GPU";
        }
    }

    internal static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
