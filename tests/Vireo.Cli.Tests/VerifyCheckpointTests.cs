using System.Text.RegularExpressions;
using Vireo.Testing;

namespace Vireo.Cli.Tests;

/// <summary>`vireo verify-checkpoint` on the tiny parity checkpoint, as a person runs it.</summary>
public sealed class VerifyCheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "vireo-verify-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task LastLineGivesTheParityFigures()
    {
        Directory.CreateDirectory(_dir);
        foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root, "tests", "parity", "tiny")))
            File.Copy(file, Path.Combine(_dir, Path.GetFileName(file)));
        var output = await VireoProcess.RunAsync(TimeSpan.FromMinutes(3), "verify-checkpoint", _dir, "--device", "cpu");
        var last = output.TrimEnd().Split('\n')[^1];
        // No tokenizer.json beside this copy, so the tokenizer is not compared.
        var match = Regex.Match(last, @"^max_logit_diff=(\S+) greedy_match=32/32 router_match=3/3 tokenizer_mismatches=n/a$");
        Assert.True(match.Success, output);
        Assert.True(double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) < 1e-3, last);
    }
}
