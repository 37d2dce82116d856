using System.Diagnostics;

namespace Vireo.Media.Tests;

/// <summary>
/// Frames reach us as yuv420p and are turned into RGB24 in C#: the pixels must stay what ffmpeg's own rgb24
/// conversion gives (within 2 levels a channel), on the clips the sampler would treat each way.
/// </summary>
[Collection(MediaCollection.Name)]
public sealed class ColorConversionTests(ClipFixture clips)
{
    public static TheoryData<string, int, int, ResizeMode, string?> Cases => new()
    {
        // Untagged testsrc2 (swscale then takes BT.601), as the benchmark clip.
        { "steady", 448, 448, ResizeMode.Stretch, "Bt601" },
        { "steady", 64, 64, ResizeMode.Pad, "Bt601" },
        // 320x240 fitted into 101x76 is 101x76: an odd width.
        { "steady", 101, 76, ResizeMode.Fit, "Bt601" },
        // An odd height (101x75 fitted is 100x75): swscale interpolates chroma then, so ffmpeg keeps converting.
        { "steady", 101, 75, ResizeMode.Fit, null },
        // The lavfi SMPTE bars are tagged BT.709: bars, a Mandelbrot zoom and testsrc2 hold saturated colours.
        { "scenes", 448, 448, ResizeMode.Stretch, "Bt709" },
        { "bt709", 448, 448, ResizeMode.Stretch, "Bt709" },
        // Full range: ffmpeg keeps its own conversion.
        { "fullrange", 64, 64, ResizeMode.Stretch, null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Rgb_matches_ffmpegs_own_rgb24_conversion(string clip, int width, int height, ResizeMode mode, string? expectedTransport)
    {
        var path = await ClipAsync(clip);
        var size = new FrameSize(width, height, mode);
        var info = await ClipFixture.Probe().ProbeAsync(path);
        Assert.Equal(YuvToRgb.IsAccelerated ? expectedTransport : null, FfmpegArguments.YuvTransport(info, size)?.ToString());
        var (w, h) = size.OutputFor(info.Width, info.Height);

        var frames = await ClipFixture.SampleAllAsync(path, SamplingPolicy.EveryFrame, size);
        var reference = await FfmpegRgbAsync(path, FfmpegArguments.ScaleFilter(info, size));

        Assert.Equal(reference.Length, frames.Count * w * h * 3);
        var worst = 0;
        for (var i = 0; i < frames.Count; i++)
        {
            var ours = frames[i].Rgb.Span;
            var theirs = reference.AsSpan(i * w * h * 3, w * h * 3);
            for (var k = 0; k < ours.Length; k++) worst = Math.Max(worst, Math.Abs(ours[k] - theirs[k]));
            frames[i].Dispose();
        }
        // The SSSE3 path is bit-exact with swscale's x86 converter; 2 levels leave room for other machines' ffmpeg.
        Assert.True(worst <= 2, $"largest channel difference {worst}");
    }

    [Fact]
    public void Simd_and_scalar_paths_compute_the_same_pixels()
    {
        var random = new Random(7);
        foreach (var matrix in new[] { YuvMatrix.Bt601, YuvMatrix.Bt709 })
        {
            foreach (var (w, h) in new[] { (1, 1), (9, 8), (15, 3), (16, 2), (17, 5), (31, 7), (33, 9), (100, 75), (448, 448) })
            {
                var yuv = new byte[YuvToRgb.Yuv420Bytes(w, h)];
                random.NextBytes(yuv);
                var fast = new byte[w * h * 3];
                var slow = new byte[w * h * 3];
                YuvToRgb.Convert(yuv, fast, w, h, matrix);
                YuvToRgb.ConvertScalar(yuv, slow, w, h, matrix);
                Assert.True(fast.AsSpan().SequenceEqual(slow), $"{matrix} {w}x{h}");
            }
        }
    }

    [Fact]
    public void Limited_range_extremes_map_to_black_white_and_the_primaries()
    {
        // 2x2 pictures: one luma value, one chroma pair.
        byte[] Pixel(byte y, byte u, byte v, YuvMatrix m)
        {
            var rgb = new byte[12];
            YuvToRgb.Convert([y, y, y, y, u, v], rgb, 2, 2, m);
            return rgb[..3];
        }
        Assert.Equal(new byte[] { 0, 0, 0 }, Pixel(16, 128, 128, YuvMatrix.Bt601));
        Assert.Equal(new byte[] { 255, 255, 255 }, Pixel(235, 128, 128, YuvMatrix.Bt601));
        // BT.601 red is Y 81, Cb 90, Cr 240 (swscale's fixed point gives 254).
        var red = Pixel(81, 90, 240, YuvMatrix.Bt601);
        Assert.InRange(red[0], 253, 255);
        Assert.InRange(red[1], 0, 2);
        Assert.InRange(red[2], 0, 2);
        // BT.709 green is Y 173, Cb 42, Cr 26.
        var green = Pixel(173, 42, 26, YuvMatrix.Bt709);
        Assert.InRange(green[0], 0, 2);
        Assert.InRange(green[1], 253, 255);
        Assert.InRange(green[2], 0, 2);
    }

    private async Task<string> ClipAsync(string name)
    {
        if (name == "scenes") return clips.SceneCuts;
        if (name == "steady") return clips.Steady;
        var path = Path.Combine(clips.Folder, $"color-{name}.mp4");
        if (File.Exists(path)) return path;
        var partial = path + ".part.mp4";
        string[] tags = name == "bt709"
            ? ["-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
            : ["-pix_fmt", "yuvj420p", "-color_range", "pc"];
        await SyntheticClips.RunFfmpegAsync([
            "-f", "lavfi", "-i", "smptehdbars=s=320x240:r=25:d=0.4,drawbox=x=0:y=0:w=80:h=60:color=red:t=fill",
            "-c:v", "libx264", "-preset", "veryfast", .. tags, partial,
        ]);
        File.Move(partial, path, overwrite: true);
        return path;
    }

    /// <summary>ffmpeg's own conversion, independent of our command line: same scale, rgb24 out.</summary>
    private static async Task<byte[]> FfmpegRgbAsync(string path, string filter)
    {
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-vf", filter, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1" })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        using var output = new MemoryStream();
        await process.StandardOutput.BaseStream.CopyToAsync(output);
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await errors);
        return output.ToArray();
    }
}
