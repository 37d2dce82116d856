using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Vireo.Media;
using Vireo.Messaging;

namespace Vireo.Cli.Commands;

/// <summary>`vireo analyze FILE`: runs a video through the pipeline and prints its timeline, text and token savings.</summary>
public static class AnalyzeCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "A video file (any format ffmpeg reads)." };
        var fps = Checked<double?>("--fps", "Frames per second to sample, up to 60 (default: the pipeline's, 2); 0 samples no fixed rate: with --scene, only scene changes, else every frame.",
            v => v is { } f ? AnalysisLimits.CheckFps(f) : null);
        var scene = Checked<double?>("--scene", "Also keep frames at scene changes whose score exceeds this (between 0 and 1).",
            v => v is { } t ? AnalysisLimits.CheckSceneThreshold(t) : null);
        var maxFrames = Checked<int?>("--max-frames", $"Most frames to analyse (1 to {AnalysisLimits.MaxFrames}).",
            v => v is { } n ? AnalysisLimits.CheckMaxFrames(n) : null);
        var routing = new Option<RoutingMode>("--routing")
        {
            Description = "auto (ViR decides), off (all 256 tokens), all-compressed (all 64).",
            DefaultValueFactory = _ => RoutingMode.Auto,
            CustomParser = ParseRouting,
        };
        routing.AcceptOnlyFromAmong(RoutingNames.Keys.ToArray());
        var maxTiles = EvalCommand.MaxTilesOption("Cut each frame into at most this many tiles (default: the pipeline's, 4). More tiles read smaller text at more visual tokens a frame.");
        var tenant = new Option<string>("--tenant") { Description = "Tenant the video belongs to.", DefaultValueFactory = _ => "local" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the result.", DefaultValueFactory = _ => 1800 };
        var command = new Command("analyze", "Analyse a video with the running pipeline and print the result.")
        {
            file, fps, scene, maxFrames, routing, maxTiles, tenant, timeout,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var video = r.GetValue(file)!;
            if (!video.Exists)
            {
                await Console.Error.WriteLineAsync($"{video.FullName} does not exist");
                return 2;
            }
            if (await RefusalAsync(video.FullName, ct) is { } refusal)
            {
                await Console.Error.WriteLineAsync(refusal);
                return 1;
            }
            using var session = AnalysisSession.Open();
            var videoId = $"{Slug(Path.GetFileNameWithoutExtension(video.Name))}-{DateTime.UtcNow:yyyyMMddHHmmss}-{Random.Shared.Next(0x10000):x4}";
            var source = session.Stage(video.FullName, videoId);
            var started = DateTime.UtcNow;
            var key = new VideoKey(r.GetValue(tenant)!, videoId);
            await session.PublishAsync(new VideoUploaded
            {
                VideoId = key.VideoId,
                TenantId = key.TenantId,
                Source = source,
                SubmittedAt = DateTimeOffset.UtcNow,
                Options = new AnalysisRequestOptions
                {
                    Sampling = new SamplingRequest { Fps = r.GetValue(fps), SceneThreshold = r.GetValue(scene), MaxFrames = r.GetValue(maxFrames) },
                    Routing = r.GetValue(routing),
                    MaxTiles = r.GetValue(maxTiles),
                },
            }, ct);
            Console.WriteLine($"submitted {video.Name} as {videoId}");
            var progress = new ProgressBar();
            VideoStatusChanged final;
            try
            {
                final = session.Follow(key, progress.Show, TimeSpan.FromSeconds(r.GetValue(timeout)), ct);
            }
            catch (TimeoutException e)
            {
                progress.Finish();
                await Console.Error.WriteLineAsync($"{e.Message}; it goes on in the pipeline (./vireo status shows the services, and their logs are under .state/logs)");
                return 3;
            }
            progress.Finish();
            if (final.State == VideoState.Failed)
            {
                await Console.Error.WriteLineAsync($"video {videoId} failed: {final.Reason}");
                return 1;
            }
            var stored = await session.WaitStoredAsync(key, final.Result?.Frames ?? 0, TimeSpan.FromSeconds(60), ct);
            var segments = await session.Queries.GetSegmentsAsync(key, ct);
            var elapsed = DateTime.UtcNow - started;
            Console.WriteLine($"video {videoId} completed in {elapsed.TotalSeconds:0.0} s: {stored.FramesStored} frames over {stored.DurationSeconds:0.0} s");
            Console.WriteLine("timeline:");
            foreach (var s in segments)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {s.StartSeconds,7:0.00} – {s.EndSeconds,7:0.00} s  frames {s.FirstFrame}–{s.LastFrame}  {s.Caption}{(s.Texts.Count > 0 ? $"  [text: {string.Join(" | ", s.Texts)}]" : "")}"));
            Console.WriteLine(stored.Texts.Count > 0
                ? $"text found: {string.Join(" | ", stored.Texts)}{(stored.TextsOmitted > 0 ? $" (and {stored.TextsOmitted} more)" : "")}"
                : "text found: none");
            if (stored.TokensBefore is { } before && before > 0 && stored.TokensAfter is { } after)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"visual tokens: {before} → {after} ({1 - (double)after / before:P1} removed by the visual resolution router)"));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Why the pipeline would refuse the file (not a video, empty, damaged, too large or too long), found with its own
    /// probe and limits before anything is staged or submitted; null for a file it accepts.
    /// </summary>
    private static async Task<string?> RefusalAsync(string path, CancellationToken ct)
    {
        await using var services = CliServices.Build(s => s.AddVireoMedia());
        try
        {
            await services.GetRequiredService<IMediaProbe>().ProbeAsync(path, ct);
            return null;
        }
        catch (MediaException e) when (e.Kind is not (MediaErrorKind.Timeout or MediaErrorKind.DecodeFailed))
        {
            return e.Message;
        }
    }

    /// <summary>An option whose value is refused at once, as the pipeline would refuse it, with the pipeline's own rule.</summary>
    private static Option<T> Checked<T>(string name, string description, Func<T?, string?> check)
    {
        var option = new Option<T>(name) { Description = description };
        option.Validators.Add(result =>
        {
            if (check(result.GetValueOrDefault<T>()) is { } error) result.AddError($"{name}: {error}.");
        });
        return option;
    }

    private static string Slug(string name)
    {
        var slug = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-').ToArray()).Trim('-');
        return slug.Length == 0 ? "video" : slug[..Math.Min(slug.Length, 40)];
    }

    /// <summary>A one-line progress bar on stderr when it is a terminal; periodic lines otherwise.</summary>
    private sealed class ProgressBar
    {
        private readonly bool _interactive = !Console.IsErrorRedirected;
        private int _lastDecile = -1;

        public void Show(VideoStatusChanged status)
        {
            var fraction = Math.Clamp(status.Progress, 0, 1);
            var total = status.FramesExpected is { } expected ? expected.ToString(CultureInfo.InvariantCulture) : "?";
            var text = string.Create(CultureInfo.InvariantCulture,
                $"{status.State.ToString().ToLowerInvariant(),-10} [{new string('#', (int)(fraction * 30)),-30}] {status.FramesDone}/{total} frames {fraction,4:P0}");
            if (_interactive)
                Console.Error.Write("\r" + text);
            else if ((int)(fraction * 10) != _lastDecile || status.State is VideoState.Completed or VideoState.Failed)
            {
                _lastDecile = (int)(fraction * 10);
                Console.Error.WriteLine(text);
            }
        }

        public void Finish()
        {
            if (_interactive) Console.Error.WriteLine();
        }
    }

    /// <summary>The routing modes by the names the API's JSON gives them.</summary>
    private static readonly Dictionary<string, RoutingMode> RoutingNames = Enum.GetValues<RoutingMode>().ToDictionary(
        mode => typeof(RoutingMode).GetField(mode.ToString())!.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? mode.ToString().ToLowerInvariant());

    /// <summary>An unknown name never reaches here: <c>AcceptOnlyFromAmong</c> refuses it first.</summary>
    private static RoutingMode ParseRouting(ArgumentResult result) => RoutingNames[result.Tokens.Single().Value];
}
