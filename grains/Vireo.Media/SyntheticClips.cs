using System.Globalization;

namespace Vireo.Media;

/// <summary>
/// Makes test clips with ffmpeg's lavfi sources (no sample media ships with the project): for `vireo sample
/// --generate`, the media benchmark and the tests.
/// </summary>
public static class SyntheticClips
{
    private static string Inv(double v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Runs ffmpeg with <paramref name="arguments"/> (after -y -hide_banner -nostdin -loglevel error) and waits
    /// at most <paramref name="timeout"/> (default two minutes); throws <see cref="MediaException"/> with
    /// ffmpeg's error output when it fails.
    /// </summary>
    public static async Task RunFfmpegAsync(IEnumerable<string> arguments, MediaOptions? options = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        string[] all = ["-y", "-hide_banner", "-nostdin", "-loglevel", "error", .. arguments];
        var ffmpeg = FfmpegBinaries.FfmpegPath(options ?? new MediaOptions());
        ProcessOutcome outcome;
        try
        {
            outcome = await ProcessRunner.RunAsync(ffmpeg, all, timeout ?? TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new MediaException(MediaErrorKind.Timeout, "(generated clip)", e.Message, e);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new MediaException(MediaErrorKind.DecodeFailed, "(generated clip)", $"ffmpeg could not be started ({ffmpeg}): {e.Message}", e);
        }
        if (outcome.ExitCode != 0)
        {
            throw new MediaException(MediaErrorKind.DecodeFailed, "(generated clip)",
                $"ffmpeg exited with code {outcome.ExitCode}: {outcome.StandardError.Trim()} [ffmpeg {string.Join(' ', all)}]");
        }
    }

    /// <summary>
    /// testsrc2 (a moving test pattern) at <paramref name="width"/>x<paramref name="height"/> and
    /// <paramref name="fps"/>, H.264 with a keyframe every <paramref name="gop"/> frames and no extra keyframes at
    /// scene cuts. Returns <paramref name="path"/>.
    /// </summary>
    public static async Task<string> TestPatternAsync(string path, double seconds, int width = 1280, int height = 720,
        int fps = 30, int gop = 60, MediaOptions? options = null, CancellationToken cancellationToken = default)
    {
        await RunFfmpegAsync([
            "-f", "lavfi", "-i", $"testsrc2=s={width}x{height}:r={fps}:d={Inv(seconds)}",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-g", gop.ToString(CultureInfo.InvariantCulture), "-sc_threshold", "0",
            path,
        ], options, cancellationToken: cancellationToken).ConfigureAwait(false);
        return path;
    }

    /// <summary>
    /// Three shots of <paramref name="shotSeconds"/> each (SMPTE HD bars, a Mandelbrot zoom, testsrc2), so that
    /// hard cuts fall at exactly 1x and 2x <paramref name="shotSeconds"/>. Returns <paramref name="path"/>.
    /// </summary>
    public static async Task<string> SceneCutsAsync(string path, double shotSeconds = 2, int width = 320, int height = 240,
        int fps = 25, MediaOptions? options = null, CancellationToken cancellationToken = default)
    {
        var s = $"s={width}x{height}:r={fps}";
        var d = Inv(shotSeconds);
        await RunFfmpegAsync([
            "-filter_complex",
            $"smptehdbars={s}:d={d}[a];mandelbrot={s},trim=duration={d}[b];testsrc2={s}:d={d}[c];" +
            "[a][b][c]concat=n=3:v=1:a=0,format=yuv420p[v]",
            "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-g", "250", path,
        ], options, cancellationToken: cancellationToken).ConfigureAwait(false);
        return path;
    }
}
