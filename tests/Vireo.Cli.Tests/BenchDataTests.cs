using System.Globalization;
using System.Text.RegularExpressions;

namespace Vireo.Cli.Tests;

/// <summary>`vireo bench data` on a few frames: the benchmark's code, not its figures.</summary>
public sealed class BenchDataTests
{
    [Fact]
    public async Task TimesTheTrainersBatchesOnOneAndTwoThreadsAndEndsWithOneLineOfRates()
    {
        var output = await VireoProcess.RunAsync(TimeSpan.FromMinutes(3), "bench", "data", "--threads", "1", "2", "--frames", "8", "--batch-size", "4");
        Assert.Contains("  1 threads:", output);
        Assert.Contains("  2 threads:", output);
        var last = output.TrimEnd().Split('\n')[^1];
        var match = Regex.Match(last, @"^data_frames_per_s=(\S+) data_tiles_per_s=(\S+) threads=2 parallel_efficiency=(\S+) gc_pause_share=\S+ draw_ms=(\S+) tile_ms=(\S+)$");
        Assert.True(match.Success, output);
        foreach (var group in new[] { 1, 2, 3, 4, 5 })
            Assert.True(double.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture) > 0, last);
        // Frames have one to five tiles.
        var frames = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var tiles = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        Assert.InRange(tiles / frames, 1, 5);
    }
}
