using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Vireo.Media;

namespace Vireo.Cli.Commands;

/// <summary>`vireo sample`: probe a video, sample it and print one line per kept frame.</summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo?>("file") { Description = "The video to sample (omit with --generate).", Arity = ArgumentArity.ZeroOrOne };
        var fps = new Option<double?>("--fps") { Description = "Keep one frame per 1/fps seconds (2 when no other rule is given)." };
        var scene = new Option<double?>("--scene") { Description = "Keep frames whose scene score exceeds this (0..1, e.g. 0.3)." };
        var keyframes = new Option<bool>("--keyframes") { Description = "Keep keyframes." };
        var dedup = new Option<int?>("--dedup") { Description = "Drop frames within this Hamming distance (0..64) of the last kept frame's perceptual hash." };
        var maxFrames = new Option<int?>("--max-frames") { Description = "Stop after this many kept frames." };
        var size = new Option<int>("--size") { Description = "Output frames are size x size RGB.", DefaultValueFactory = _ => 448 };
        var generate = new Option<bool>("--generate") { Description = "Without a file: generate a 6 s clip with cuts at 2 s and 4 s (ffmpeg lavfi) and sample it." };

        var command = new Command("sample", "Probe and sample a video; print index, timestamp and reasons of each kept frame.")
        {
            file, fps, scene, keyframes, dedup, maxFrames, size, generate,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var policy = new SamplingPolicy
            {
                FramesPerSecond = r.GetValue(fps),
                SceneThreshold = r.GetValue(scene),
                Keyframes = r.GetValue(keyframes),
                DedupMaxDistance = r.GetValue(dedup),
                MaxFrames = r.GetValue(maxFrames),
            };
            if (policy.KeepsEveryFrame) policy = policy with { FramesPerSecond = 2 };
            try
            {
                policy.Validate();
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 2;
            }

            await using var services = CliServices.Build(s => s.AddVireoMedia());
            try
            {
                string path;
                if (r.GetValue(file) is { } given) path = given.FullName;
                else if (r.GetValue(generate))
                {
                    path = Path.Combine(CliServices.StateFolder("media"), "sample-scenes.mp4");
                    await SyntheticClips.SceneCutsAsync(path, shotSeconds: 2, width: 640, height: 360, fps: 25,
                        options: services.GetRequiredService<IOptions<MediaOptions>>().Value, cancellationToken: ct);
                    Console.WriteLine($"# generated {path} (cuts at 2.0 s and 4.0 s)");
                }
                else
                {
                    await Console.Error.WriteLineAsync("Give a file, or --generate to sample a generated clip.");
                    return 2;
                }

                var info = await services.GetRequiredService<IMediaProbe>().ProbeAsync(path, ct);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"# {info.Width}x{info.Height} {info.Codec} {info.FrameRate:F3} fps{(info.IsVariableFrameRate ? " (variable)" : "")}, {(info.Duration > TimeSpan.Zero ? info.Duration.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture) + " s" : "no duration declared")}, rotation {info.Rotation}, {info.FileSizeBytes} bytes"));
                Console.WriteLine("# index  time_s  source_frame  reasons");
                var sampler = services.GetRequiredService<IFrameSampler>();
                var side = r.GetValue(size);
                await foreach (var frame in sampler.SampleAsync(info, policy, FrameSize.Square(side), null, ct))
                {
                    using (frame)
                    {
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{frame.Index,7} {frame.Timestamp.TotalSeconds,7:F3} {frame.SourceFrameNumber,13}  {frame.Reasons}"));
                    }
                }
                return 0;
            }
            catch (MediaException e)
            {
                await Console.Error.WriteLineAsync(e.Message);
                return 1;
            }
            catch (OptionsValidationException e)
            {
                await Console.Error.WriteLineAsync($"Invalid media settings: {e.Message}");
                return 2;
            }
        });
        return command;
    }
}
