using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Vireo.Media;

namespace Vireo.EndToEnd.Tests;

/// <summary>Short clips made with ffmpeg for the end-to-end tests, and the frames the sampler keeps from them.</summary>
public static class Clips
{
    private static readonly string Folder = Directory.CreateTempSubdirectory("vireo-e2e-clips-").FullName;

    public static async Task<string> MakeAsync(string name, double seconds, string source = "testsrc2", bool faststart = false)
    {
        var path = Path.Combine(Folder, name);
        await SyntheticClips.RunFfmpegAsync(["-f", "lavfi", "-i", $"{source}=size=320x240:rate=25", "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", .. (faststart ? ["-movflags", "+faststart"] : Array.Empty<string>()), "-y", path]);
        return path;
    }

    /// <summary>The frame indexes the media stage keeps at a fixed rate: what must end up in Postgres.</summary>
    public static async Task<List<int>> SampledIndexesAsync(string path, double fps)
    {
        var options = Options.Create(new MediaOptions());
        var probe = new MediaProbe(options, NullLogger<MediaProbe>.Instance);
        var sampler = new FrameSampler(probe, options, NullLogger<FrameSampler>.Instance);
        var indexes = new List<int>();
        await foreach (var frame in sampler.SampleAsync(path, SamplingPolicy.FixedRate(fps), new FrameSize(64, 64)))
            using (frame)
                indexes.Add(frame.Index);
        return indexes;
    }
}
