using System.Diagnostics;
using Vireo.Model.Training.Data;

namespace Vireo.Model.Training.Tests;

public sealed class H264IntraTests
{
    /// <summary>A picture with what video carries: gradients, hard-edged bars and a few 1-px lines.</summary>
    private static byte[] Picture(int width = 200, int height = 120)
    {
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = (y * width + x) * 3;
                var bar = x / 25 % 2 == 0;
                var line = y % 17 == 0 && x > width / 2;
                // Brightness carries the detail; the colour changes slowly, as it mostly does in video.
                var v = line ? 245 : bar ? 60 + x / 3 : 190 - y / 2;
                rgb[i] = (byte)v;
                rgb[i + 1] = (byte)Math.Min(255, v + 8);
                rgb[i + 2] = (byte)Math.Clamp(v - 10 + x / 10, 0, 255);
            }
        }
        return rgb;
    }

    private static double Psnr(byte[] a, byte[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++)
            sum += (a[i] - b[i]) * (a[i] - b[i]);
        return 10 * Math.Log10(255.0 * 255.0 / Math.Max(sum / a.Length, 1e-9));
    }

    private static byte[] Coded(byte[] rgb, int width, int height, int qp)
    {
        var copy = (byte[])rgb.Clone();
        H264Intra.Recompress(copy, width, height, qp);
        return copy;
    }

    [Fact]
    public void AHigherQpLosesMoreAndTheSamePictureCodesTheSameWay()
    {
        var picture = Picture();
        var psnr = new[] { 10, 24, 32, 40, 48 }.Select(qp => Psnr(picture, Coded(picture, 200, 120, qp))).ToArray();
        for (var i = 1; i < psnr.Length; i++)
            Assert.True(psnr[i] < psnr[i - 1], $"QP steps lose more: {string.Join(", ", psnr.Select(p => p.ToString("F1")))} dB");
        Assert.InRange(psnr[0], 30, 60);
        Assert.InRange(psnr[^1], 15, 32);
        Assert.Equal(Coded(picture, 200, 120, 32), Coded(picture, 200, 120, 32));
    }

    [Fact]
    public void ItLosesAboutWhatX264LosesOnIntraPicturesAtTheSameQp()
    {
        // x264, intra only at a fixed QP, encodes and ffmpeg decodes the same picture: the two codings lose about as
        // much, this one a little more, since x264 has more prediction modes, an 8×8 transform and rate-distortion choices.
        var picture = Picture(208, 128);
        var folder = Directory.CreateTempSubdirectory("vireo-h264-").FullName;
        try
        {
            foreach (var qp in new[] { 26, 36 })
            {
                var raw = Path.Combine(folder, "in.rgb");
                var coded = Path.Combine(folder, "coded.mp4");
                var back = Path.Combine(folder, "out.rgb");
                File.WriteAllBytes(raw, picture);
                Ffmpeg("-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "208x128", "-i", raw, "-c:v", "libx264", "-qp", qp.ToString(),
                    "-g", "1", "-pix_fmt", "yuv420p", coded);
                Ffmpeg("-i", coded, "-f", "rawvideo", "-pix_fmt", "rgb24", back);
                var x264 = Psnr(picture, File.ReadAllBytes(back));
                var ours = Psnr(picture, Coded(picture, 208, 128, qp));
                // Measured: 39.6 and 40.6 dB at QP 26, 33.0 and 36.0 at 36 (x264 has more tools to spend its bits with).
                Assert.InRange(ours, x264 - 4, x264 + 2);
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void APictureOfAnySizeIsCodedWhole()
    {
        // 37×23 is no whole number of macroblocks: the encoder pads it and the picture comes back at its own size.
        var picture = Picture(37, 23);
        var coded = Coded(picture, 37, 23, 30);
        Assert.InRange(Psnr(picture, coded), 20, 60);
        var flat = Enumerable.Repeat((byte)90, 37 * 23 * 3).ToArray();
        Assert.All(Coded(flat, 37, 23, 40), v => Assert.InRange(v, 82, 98));
    }

    private static void Ffmpeg(params string[] arguments)
    {
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "-v", "error", "-y" }.Concat(arguments))
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, errors);
    }
}
