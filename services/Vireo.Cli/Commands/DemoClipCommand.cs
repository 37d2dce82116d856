using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Vireo.Model.Configuration;
using Vireo.Model.Training.Data;
using Vireo.Model.Imaging;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo demo-clip`: renders a video of synthetic scenes (shapes and text on flat and busy backgrounds, each held
/// for a while) with known content, so that what the pipeline reads can be checked by eye.
/// </summary>
public static class DemoClipCommand
{
    public static Command Create()
    {
        var output = new Option<FileInfo>("--out") { Description = "The mp4 to write.", Required = true };
        var scenes = new Option<int>("--scenes") { Description = "Number of scenes.", DefaultValueFactory = _ => 6 };
        var seconds = new Option<double>("--seconds-per-scene") { Description = "How long each scene is held.", DefaultValueFactory = _ => 2 };
        var width = new Option<int>("--width") { DefaultValueFactory = _ => 896 };
        var height = new Option<int>("--height") { DefaultValueFactory = _ => 504 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 7 };
        var command = new Command("demo-clip", "Render a clip of synthetic scenes with known captions and text.") { output, scenes, seconds, width, height, seed };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var truth = await RenderAsync(r.GetValue(output)!.FullName, r.GetValue(scenes), r.GetValue(seconds), r.GetValue(width), r.GetValue(height), r.GetValue(seed), ct);
            Console.WriteLine($"wrote {r.GetValue(output)!.FullName}; its scenes:");
            foreach (var line in truth)
                Console.WriteLine("  " + line);
            return 0;
        });
        return command;
    }

    /// <summary>Renders the clip and returns one line per scene: its time range and its true content.</summary>
    public static async Task<IReadOnlyList<string>> RenderAsync(string path, int scenes, double secondsPerScene, int width, int height, int seed, CancellationToken ct)
    {
        const int fps = 25;
        var config = ModelConfig.Small();
        var tiler = DynamicTiler.For(config);
        var generator = new SyntheticFrames(tiler);
        var rng = new Random(seed);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardInput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{width}x{height}", "-r", $"{fps}", "-i", "-",
                     "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", "-g", $"{fps}", path })
            start.ArgumentList.Add(a);
        using var ffmpeg = Process.Start(start)!;
        var errors = ffmpeg.StandardError.ReadToEndAsync(ct);
        var truth = new List<string>();
        var framesPerScene = (int)Math.Round(secondsPerScene * fps);
        await using (var stdin = ffmpeg.StandardInput.BaseStream)
        {
            for (var s = 0; s < scenes; s++)
            {
                var sample = generator.Generate(rng, [(width, height)]);
                truth.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{s * secondsPerScene,6:0.0} – {(s + 1) * secondsPerScene,6:0.0} s  {sample.Caption}  [text: {sample.Text ?? "none"}{(sample.Text is null ? "" : $", {sample.TextSize.ToString().ToLowerInvariant()}")}]"));
                for (var f = 0; f < framesPerScene; f++)
                    await stdin.WriteAsync(sample.Frame.Pixels, ct);
            }
        }
        await ffmpeg.WaitForExitAsync(ct);
        if (ffmpeg.ExitCode != 0)
            throw new InvalidOperationException($"ffmpeg failed ({ffmpeg.ExitCode}): {await errors}");
        return truth;
    }
}
