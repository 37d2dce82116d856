using System.Globalization;
using System.Text.RegularExpressions;

namespace Vireo.Cli.Tests;

/// <summary>`vireo bench model` at its own tiny shape on the CPU: the benchmark's code, not its figures.</summary>
public sealed class BenchModelTests
{
    [Fact]
    public async Task EndsWithOneLineOfRatiosAndChecksThatABatchDecodesAsItsFramesAlone()
    {
        var output = await VireoProcess.RunAsync(TimeSpan.FromMinutes(4), "bench", "model", "--device", "cpu", "--shape", "tiny", "--runs", "1", "--batch", "3", "--new-tokens", "6", "--hf-script", "");
        var last = output.TrimEnd().Split('\n')[^1];
        // Without transformers the ratios to it are not numbers; Vireo's own are.
        var match = Regex.Match(last, @"^vision_vs_hf=NaN prefill_vs_hf=NaN frames_vs_hf=NaN ttft_vir_speedup=(\S+) vir_frame_speedup=(\S+) decode_vs_bound=\S+ frames_per_s=(\S+)$");
        Assert.True(match.Success, output);
        foreach (var group in new[] { 1, 2, 3 })
            Assert.True(double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) > 0, last);
        Assert.Contains("prefill of 3 frames: routing off", output);

        var agreement = await VireoProcess.RunAsync(TimeSpan.FromMinutes(4), "bench", "model", "--device", "cpu", "--shape", "tiny", "--batch", "3", "--new-tokens", "6", "--check-batching", "float32");
        Assert.Contains("tiny float32: 3 of 3 frames decode the same 6 tokens in a batch of 3 as alone", agreement);
    }
}
