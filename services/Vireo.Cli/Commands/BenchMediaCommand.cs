using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Vireo.Media;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo bench media`: our decode + sample + RGB pipeline against plain ffmpeg doing the same decode and scale
/// into the null muxer, on one cached 60 s 1280x720 testsrc2 clip, alternating, best of three each. The clip is
/// probed once, outside the timings; every variant starts its own ffmpeg.
/// </summary>
public static class BenchMediaCommand
{
    private const int Side = 448;

    public static Command Create()
    {
        var rounds = new Option<int>("--rounds") { Description = "Runs of each variant; the best counts.", DefaultValueFactory = _ => 3 };
        var seconds = new Option<int>("--seconds") { Description = "Length of the generated clip.", DefaultValueFactory = _ => 60 };
        var command = new Command("media", "Decode + sample a 60 s 720p clip to 448x448 RGB at 2 fps and at the source rate; compare with plain ffmpeg.")
        {
            rounds, seconds,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            await using var services = CliServices.Build(s => s.AddVireoMedia());
            var options = services.GetRequiredService<IOptions<MediaOptions>>().Value;
            var sampler = services.GetRequiredService<IFrameSampler>();
            var length = r.GetValue(seconds);
            var clip = Path.Combine(CliServices.StateFolder("media"), $"bench-testsrc2-1280x720-30fps-{length}s.mp4");
            if (!File.Exists(clip))
            {
                Console.WriteLine($"generating {clip} ...");
                var partial = clip + ".part.mp4";
                await SyntheticClips.TestPatternAsync(partial, length, 1280, 720, 30, gop: 60, options, ct);
                File.Move(partial, clip, overwrite: true);
            }
            var info = await services.GetRequiredService<IMediaProbe>().ProbeAsync(clip, ct);
            Console.WriteLine(Inv($"clip {clip}: {info.Width}x{info.Height} {info.Codec} {info.FrameRate:F2} fps {info.Duration.TotalSeconds:F1} s; {Environment.ProcessorCount} cores"));

            var n = Math.Max(1, r.GetValue(rounds));
            var sourceFps = info.FrameRate;
            // The same video as a hand-made VideoInfo (no colour tags): the sampler then has ffmpeg convert to
            // RGB24 itself, as it always did before the YUV transport; measured alongside, in the same rounds.
            var unprobed = info with { ColorSpace = null, ColorRange = null };
            var results = new List<(string Rate, Measure Ours, Measure Ffmpeg)>();
            foreach (var (label, policy, ffmpegFilter) in new[]
                     {
                         ("2 fps", SamplingPolicy.FixedRate(2), $"fps=2,scale={Side}:{Side}"),
                         // At the source rate every frame is kept and no fps filter runs on our side either.
                         ("source rate", SamplingPolicy.EveryFrame, $"scale={Side}:{Side}"),
                     })
            {
                var ours = new Measure();
                var plain = new Measure();
                var oursRgb = label == "source rate" ? new Measure() : null;
                var rgbPipe = label == "source rate" ? new Measure() : null;
                for (var i = 0; i < n; i++)
                {
                    // Alternate, so drift in machine load hits every variant alike.
                    ours.Add(await TimeOursAsync(sampler, info, policy, ct));
                    plain.Add(await TimeFfmpegAsync(options, clip, ffmpegFilter, rgbToPipe: false, ct));
                    if (oursRgb is not null) oursRgb.Add(await TimeOursAsync(sampler, unprobed, policy, ct));
                    if (rgbPipe is not null) rgbPipe.Add(await TimeFfmpegAsync(options, clip, $"scale={Side}:{Side},format=yuv420p", rgbToPipe: true, ct));
                }
                results.Add((label, ours, plain));
                var transport = $"colour space {info.ColorSpace}, range {info.ColorRange}";
                Console.WriteLine(Inv($"{label,-12} ours:   best {ours.Best.Seconds:F3} s  {ours.Best.Frames} frames  {ours.Best.Frames / ours.Best.Seconds,8:F1} frames/s  (runs: {ours})  [{transport}]"));
                Console.WriteLine(Inv($"{label,-12} ffmpeg: best {plain.Best.Seconds:F3} s  {plain.Best.Frames} frames  {plain.Best.Frames / plain.Best.Seconds,8:F1} frames/s  (runs: {plain})  [-vf {ffmpegFilter} -f null]"));
                if (oursRgb is not null)
                    Console.WriteLine(Inv($"{label,-12} ours with ffmpeg's rgb24 (previous transport): best {oursRgb.Best.Seconds:F3} s  (runs: {oursRgb})  ratio {plain.Best.Seconds / oursRgb.Best.Seconds:F3}  [for reference]"));
                if (rgbPipe is not null)
                    Console.WriteLine(Inv($"{label,-12} ffmpeg rgb24 to a pipe, read and dropped: best {rgbPipe.Best.Seconds:F3} s  (runs: {rgbPipe})  [for reference]"));
                Console.WriteLine(Inv($"{label,-12} ratio ours/ffmpeg (throughput): {plain.Best.Seconds / ours.Best.Seconds:F3}"));
                // Wall time on a shared machine swings with other load; CPU seconds (ffmpeg plus this process) swing less.
                var ourCpu = ours.BestCpu.ChildCpu + ours.BestCpu.OwnCpu;
                var theirCpu = plain.BestCpu.ChildCpu + plain.BestCpu.OwnCpu;
                Console.WriteLine(Inv($"{label,-12} ratio ours/ffmpeg (CPU seconds, least of each): {theirCpu / ourCpu:F3}  ({ourCpu:F2} s vs {theirCpu:F2} s)"));
            }

            var source = results.Single(x => x.Rate == "source rate");
            var ratio = source.Ffmpeg.Best.Seconds / source.Ours.Best.Seconds;
            var fps = source.Ours.Best.Frames / source.Ours.Best.Seconds;
            Console.WriteLine(Inv($"media_throughput_ratio={ratio:F3} media_fps={fps:F1}"));
            return 0;
        });
        return command;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static async Task<Run> TimeOursAsync(IFrameSampler sampler, VideoInfo video, SamplingPolicy policy, CancellationToken ct)
    {
        var cpu = CpuClock.Start();
        var clock = Stopwatch.StartNew();
        long frames = 0;
        long checksum = 0;
        await foreach (var frame in sampler.SampleAsync(video, policy, FrameSize.Square(Side), null, ct))
        {
            frames++;
            // Touch the pixels, as a consumer would: one byte per cache line.
            var pixels = frame.Rgb.Span;
            for (var i = 0; i < pixels.Length; i += 64) checksum += pixels[i];
            frame.Dispose();
        }
        GC.KeepAlive(checksum);
        var wall = clock.Elapsed.TotalSeconds;
        var (own, children) = cpu.Stop();
        return new Run(wall, frames, own, children);
    }

    /// <summary>Plain ffmpeg: same input, same decoder, same scaler; output to the null muxer (or raw RGB into a pipe we drain).</summary>
    private static async Task<Run> TimeFfmpegAsync(MediaOptions options, string clip, string filter, bool rgbToPipe, CancellationToken ct)
    {
        var cpu = CpuClock.Start();
        var start = new ProcessStartInfo(string.IsNullOrEmpty(options.BinaryFolder) ? "ffmpeg" : Path.Combine(options.BinaryFolder, "ffmpeg"))
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        string[] args = rgbToPipe
            ? ["-hide_banner", "-nostdin", "-loglevel", "error", "-stats_period", "1000", "-i", clip, "-vf", filter, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
            : ["-hide_banner", "-nostdin", "-loglevel", "error", "-stats", "-i", clip, "-vf", filter, "-f", "null", "-"];
        foreach (var a in args) start.ArgumentList.Add(a);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync(ct);
        long bytes = 0;
        var buffer = new byte[1 << 20];
        var stdout = process.StandardOutput.BaseStream;
        int read;
        while ((read = await stdout.ReadAsync(buffer, ct)) > 0) bytes += read;
        await process.WaitForExitAsync(ct);
        var elapsed = clock.Elapsed.TotalSeconds;
        var log = await errors;
        if (process.ExitCode != 0) throw new InvalidOperationException($"ffmpeg failed: {log}");
        var (own, children) = cpu.Stop();
        return new Run(elapsed, rgbToPipe ? bytes / (Side * Side * 3) : LastFrameCount(log), own, children);
    }

    /// <summary>The frame count of ffmpeg's last "frame=  1800 fps=..." stats line.</summary>
    private static long LastFrameCount(string log)
    {
        var at = log.LastIndexOf("frame=", StringComparison.Ordinal);
        if (at < 0) return 0;
        var digits = log[(at + 6)..].TrimStart();
        var end = 0;
        while (end < digits.Length && char.IsAsciiDigit(digits[end])) end++;
        return long.TryParse(digits[..end], CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    /// <summary>One timed run: wall time, frames, CPU seconds of this process and of the ffmpeg child.</summary>
    private readonly record struct Run(double Seconds, long Frames, double OwnCpu, double ChildCpu);

    private sealed class Measure
    {
        private readonly List<Run> _runs = [];

        public void Add(Run run) => _runs.Add(run);

        public Run Best => _runs.MinBy(r => r.Seconds);

        public Run BestCpu => _runs.MinBy(r => r.OwnCpu + r.ChildCpu);

        public override string ToString() =>
            string.Join(", ", _runs.Select(r => r.Seconds.ToString("F3", CultureInfo.InvariantCulture)))
            + Inv($"; best run cpu: ffmpeg {Best.ChildCpu:F2} s, this process {Best.OwnCpu:F2} s");
    }

    /// <summary>CPU time of this process and of its reaped children (ffmpeg), from /proc/self/stat.</summary>
    private readonly record struct CpuClock(double Own, double Children)
    {
        public static CpuClock Start() => Read();

        public (double Own, double Children) Stop()
        {
            var now = Read();
            return (now.Own - Own, now.Children - Children);
        }

        private static CpuClock Read()
        {
            var own = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
            try
            {
                var stat = File.ReadAllText("/proc/self/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // Fields 16 and 17 of stat (cutime, cstime), counted from the state field (3) on.
                var ticks = double.Parse(fields[13], CultureInfo.InvariantCulture) + double.Parse(fields[14], CultureInfo.InvariantCulture);
                return new CpuClock(own, ticks / 100.0);
            }
            catch (IOException)
            {
                return new CpuClock(own, 0);
            }
        }
    }
}
