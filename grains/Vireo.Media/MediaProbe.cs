using FFMpegCore;
using FFMpegCore.Exceptions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Vireo.Media;

/// <summary>ffprobe (through FFMpegCore) with a time limit, typed errors and the configured limits.</summary>
public sealed partial class MediaProbe(IOptions<MediaOptions> options, ILogger<MediaProbe> logger) : IMediaProbe
{
    // Relative gap between the base and the average frame rate above which we call a stream variable-rate.
    private const double VariableRateTolerance = 0.015;

    private readonly MediaOptions _options = options.Value;

    /// <inheritdoc />
    public async Task<VideoInfo> ProbeAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = new FileInfo(path);
        if (!file.Exists) throw new MediaException(MediaErrorKind.NotFound, path, "the file does not exist");
        // A link (a media silo probes the file it opened through /proc/PID/fd/N) is sized by what it points to.
        if (file.ResolveLinkTarget(returnFinalTarget: true) is FileInfo { Exists: true } target)
            file = target;
        if (file.Length == 0) throw new MediaException(MediaErrorKind.EmptyFile, path, "the file is empty");
        if (file.Length > _options.MaxFileSizeBytes)
            throw new MediaException(MediaErrorKind.FileTooLarge, path,
                $"the file has {file.Length} bytes, the limit is {_options.MaxFileSizeBytes}");

        var analysis = await AnalyseAsync(file.FullName, cancellationToken).ConfigureAwait(false);
        var info = ToVideoInfo(file, analysis);
        MediaLimits.Check(info, _options);
        LogProbed(path, info.Width, info.Height, info.Duration, info.FrameRate, info.IsVariableFrameRate, info.Rotation, info.Codec);
        return info;
    }

    private async Task<IMediaAnalysis> AnalyseAsync(string path, CancellationToken cancellationToken)
    {
        // ffprobe runs under our own process control so the time limit really kills it (FFMpegCore's
        // AnalyseAsync waited for a hung ffprobe to end by itself); FFMpegCore parses its JSON.
        ProcessOutcome outcome;
        try
        {
            outcome = await ProcessRunner.RunAsync(FfmpegBinaries.FfprobePath(_options),
                ["-loglevel", "error", "-print_format", "json", "-show_format", "-sexagesimal", "-show_streams",
                    ..FfmpegBinaries.InputRestrictions(), FfmpegBinaries.LocalInput(path)],
                _options.ProbeTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new MediaException(MediaErrorKind.Timeout, path, $"ffprobe ran longer than {_options.ProbeTimeout}");
        }
        catch (InvalidDataException e)
        {
            throw new MediaException(MediaErrorKind.Corrupt, path, $"ffprobe's report is too long to read, from oversized metadata: {e.Message}", e);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new MediaException(MediaErrorKind.DecodeFailed, path, $"ffprobe could not be started ({FfmpegBinaries.FfprobePath(_options)}): {e.Message}", e);
        }

        if (outcome.ExitCode == 0)
        {
            try
            {
                return FFProbe.FromJson(outcome.StandardOutput);
            }
            // FFMpegCore parses the report's fields with Single.Parse and the like: a tag such as rotate=abc throws
            // FormatException, which is the file's fault like any other report it cannot read.
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogProbeFailed(path, MediaErrorKind.Corrupt, e.Message);
                throw new MediaException(MediaErrorKind.Corrupt, path, $"ffprobe's report could not be read: {e.Message}", e);
            }
        }

        var errors = outcome.StandardError;
        var kind = FfmpegErrors.Classify(errors) ?? MediaErrorKind.Corrupt;
        // ffmpeg picks the MP4 reader by extension, so any file named .mp4 without an index "lacks its moov":
        // only a file that starts like an MP4 is a truncated one.
        if (kind == MediaErrorKind.Truncated && !LooksLikeIsoMedia(path)) kind = MediaErrorKind.NotAVideo;
        LogProbeFailed(path, kind, FfmpegErrors.Summary(errors));
        throw new MediaException(kind, path, $"ffprobe could not read the file (exit code {outcome.ExitCode}): {FfmpegErrors.Describe(errors)}");
    }

    private static bool LooksLikeIsoMedia(string path)
    {
        Span<byte> head = stackalloc byte[8];
        using var stream = File.OpenRead(path);
        if (stream.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8) return false;
        var box = System.Text.Encoding.ASCII.GetString(head[4..8]);
        return box is "ftyp" or "moov" or "mdat" or "free" or "wide" or "skip" or "pnot" or "styp";
    }

    private static VideoInfo ToVideoInfo(FileInfo file, IMediaAnalysis analysis)
    {
        var path = file.FullName;
        var format = analysis.Format.FormatName ?? "";
        var video = analysis.PrimaryVideoStream;
        if (video is null)
        {
            var kind = analysis.AudioStreams.Count > 0 || analysis.SubtitleStreams.Count > 0
                ? MediaErrorKind.NoVideoStream : MediaErrorKind.NotAVideo;
            throw new MediaException(kind, path, kind == MediaErrorKind.NoVideoStream
                ? $"the {format} file has no video stream"
                : $"ffprobe found no media streams in the {format} file");
        }
        // Still images and terminal art come out as one-frame "video" streams; they are not videos.
        if (format is "image2" or "tty" || format.EndsWith("_pipe", StringComparison.Ordinal))
            throw new MediaException(MediaErrorKind.NotAVideo, path, $"the file is a {format} image or document, not a video");

        var rotation = ((video.Rotation % 360) + 360) % 360;
        var nominal = Finite(video.RealFrameRate);
        var average = Finite(video.AverageFrameRate);
        var isVariable = nominal > 0 && average > 0 && Math.Abs(nominal - average) / nominal > VariableRateTolerance;
        var duration = analysis.Duration;
        return new VideoInfo(
            Path: path,
            FileSizeBytes: file.Length,
            Duration: duration,
            CodedWidth: video.Width ?? 0,
            CodedHeight: video.Height ?? 0,
            Rotation: rotation,
            FrameRate: average > 0 ? average : nominal,
            NominalFrameRate: nominal,
            IsVariableFrameRate: isVariable,
            Codec: video.CodecName ?? "unknown",
            PixelFormat: video.PixelFormat ?? "unknown",
            ContainerFormat: format,
            HasAudio: analysis.AudioStreams.Count > 0)
        {
            ColorSpace = string.IsNullOrEmpty(video.ColorSpace) ? "unspecified" : video.ColorSpace,
            ColorRange = string.IsNullOrEmpty(video.ColorRange) ? "unspecified" : video.ColorRange,
        };
    }

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    [LoggerMessage(Level = LogLevel.Debug, Message = "Probed {Path}: {Width}x{Height}, {Duration}, {FrameRate:F3} fps (variable {IsVariableFrameRate}), rotation {Rotation}, {Codec}")]
    private partial void LogProbed(string path, int width, int height, TimeSpan duration, double frameRate, bool isVariableFrameRate, int rotation, string codec);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ffprobe failed on {Path}: {Kind}: {Errors}")]
    private partial void LogProbeFailed(string path, MediaErrorKind kind, string errors);
}
