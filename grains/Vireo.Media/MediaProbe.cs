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

    // Codecs of single pictures (not gif, whose pictures move).
    private static readonly HashSet<string> StillImageCodecs = ["png", "mjpeg", "bmp", "tiff", "webp", "jpegls", "jpeg2000", "qoi"];

    // The longest a one-picture stream lasts: a picture shown for a frame interval or two.
    private static readonly TimeSpan BlinkDuration = TimeSpan.FromSeconds(0.25);

    private readonly MediaOptions _options = options.Value;

    /// <inheritdoc />
    public async Task<VideoInfo> ProbeAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = new FileInfo(path);
        if (!file.Exists) throw new MediaException(MediaErrorKind.NotFound, path, "the file does not exist");
        // A link (a media silo probes the file it opened through /proc/PID/fd/N) is sized by what it points to.
        FileSystemInfo? linked;
        try
        {
            linked = file.ResolveLinkTarget(returnFinalTarget: true);
        }
        catch (IOException e)
        {
            // Links that lead back to themselves (A -> B -> A) or run deeper than the system follows reach no file.
            throw new MediaException(MediaErrorKind.NotFound, path, $"the file's links lead to no file: {e.Message}", e);
        }
        if (linked is FileInfo { Exists: true } target)
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
        var video = ChooseVideoStream(analysis);
        if (video is null)
        {
            var kind = analysis.AudioStreams.Count > 0 || analysis.SubtitleStreams.Count > 0 || analysis.VideoStreams.Count > 0
                ? MediaErrorKind.NoVideoStream : MediaErrorKind.NotAVideo;
            throw new MediaException(kind, path, kind == MediaErrorKind.NoVideoStream
                ? analysis.VideoStreams.Count > 0
                    ? $"the {format} file has no video stream, only a picture attached to it (cover art)"
                    : $"the {format} file has no video stream"
                : $"ffprobe found no media streams in the {format} file");
        }
        // Still images and terminal art come out as one-frame "video" streams; they are not videos.
        if (format is "image2" or "tty" || format.EndsWith("_pipe", StringComparison.Ordinal))
            throw new MediaException(MediaErrorKind.NotAVideo, path, $"the file is a {format} image or document, not a video");

        var rotation = RotationOf(video);
        var nominal = Finite(video.RealFrameRate);
        var average = Finite(video.AverageFrameRate);
        var isVariable = nominal > 0 && average > 0 && Math.Abs(nominal - average) / nominal > VariableRateTolerance;
        // FFMpegCore's Duration counts its own primary video stream, which may be one we passed over.
        TimeSpan[] durations = [analysis.Format.Duration, video.Duration, analysis.PrimaryAudioStream?.Duration ?? TimeSpan.Zero];
        var duration = durations.Max();
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
            StreamIndex = video.Index,
        };
    }

    /// <summary>
    /// The video stream to describe and decode: among the streams that are video rather than a picture attached to
    /// the file, the one marked default, else the first. FFMpegCore's PrimaryVideoStream would take a cover picture
    /// marked default over the video; the sampler decodes exactly the stream chosen here, by its index.
    /// </summary>
    private static VideoStream? ChooseVideoStream(IMediaAnalysis analysis)
    {
        var videos = analysis.VideoStreams.Where(s => !IsAttachedPicture(s, analysis)).OrderBy(s => s.Index).ToList();
        return videos.FirstOrDefault(s => HasDisposition(s, "default")) ?? videos.FirstOrDefault();
    }

    private static bool IsAttachedPicture(VideoStream stream, IMediaAnalysis analysis)
    {
        if (HasDisposition(stream, "attached_pic") || HasDisposition(stream, "timed_thumbnails")) return true;
        // A container without the attached-picture mark (Matroska, or an MP4 written without it) carries cover art
        // as a video stream of one still picture: a blink beside sound that goes on.
        return analysis.AudioStreams.Count > 0
            && StillImageCodecs.Contains(stream.CodecName ?? "")
            && stream.Duration > TimeSpan.Zero && stream.Duration <= BlinkDuration
            && analysis.Format.Duration >= stream.Duration * 10;
    }

    private static bool HasDisposition(MediaStream stream, string name) =>
        stream.Disposition is { } disposition && disposition.TryGetValue(name, out var set) && set;

    /// <summary>
    /// The rotation as ffmpeg applies it when it decodes: ffmpeg rounds the display matrix's angle to whole degrees
    /// and turns the picture a quarter turn only where that comes to 90 or 270 (anything else it rotates within the
    /// coded size). ffprobe's "rotation" field, which FFMpegCore reads, cuts the angle to an integer instead, so that
    /// 89.6 degrees reads 89 where ffmpeg turns by 90: the angle is computed from the matrix here.
    /// </summary>
    private static int RotationOf(VideoStream video)
    {
        foreach (var sideData in video.SideData ?? [])
        {
            if (sideData.TryGetValue("displaymatrix", out var matrix) && DisplayMatrixAngle(matrix?.ToString()) is { } angle)
                return NormalizeDegrees((int)Math.Round(angle, MidpointRounding.AwayFromZero));
        }
        return NormalizeDegrees(video.Rotation);
    }

    private static int NormalizeDegrees(int degrees) => ((degrees % 360) + 360) % 360;

    /// <summary>
    /// The counter-clockwise angle of a display matrix as ffprobe prints it (three rows of three integers after a row
    /// label), computed as libavutil's av_display_rotation_get does; null when the text is not such a matrix.
    /// </summary>
    private static double? DisplayMatrixAngle(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var values = new List<double>(9);
        foreach (var row in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = row.IndexOf(':', StringComparison.Ordinal);
            foreach (var cell in row[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                if (!long.TryParse(cell, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var value))
                    return null;
                values.Add(value);
            }
        }
        if (values.Count != 9) return null;
        var scaleX = Math.Sqrt(values[0] * values[0] + values[3] * values[3]);
        var scaleY = Math.Sqrt(values[1] * values[1] + values[4] * values[4]);
        if (scaleX == 0 || scaleY == 0) return null;
        return -Math.Atan2(values[1] / scaleY, values[0] / scaleX) * 180 / Math.PI;
    }

    private static double Finite(double value) => double.IsFinite(value) ? value : 0;

    [LoggerMessage(Level = LogLevel.Debug, Message = "Probed {Path}: {Width}x{Height}, {Duration}, {FrameRate:F3} fps (variable {IsVariableFrameRate}), rotation {Rotation}, {Codec}")]
    private partial void LogProbed(string path, int width, int height, TimeSpan duration, double frameRate, bool isVariableFrameRate, int rotation, string codec);

    [LoggerMessage(Level = LogLevel.Warning, Message = "ffprobe failed on {Path}: {Kind}: {Errors}")]
    private partial void LogProbeFailed(string path, MediaErrorKind kind, string errors);
}
