namespace Vireo.Media;

/// <summary>What the probe learned about a video, before any decoding.</summary>
/// <param name="Path">The file probed.</param>
/// <param name="FileSizeBytes">File size in bytes.</param>
/// <param name="Duration">Container duration (the longest of format and video stream durations).</param>
/// <param name="CodedWidth">Width as stored in the stream.</param>
/// <param name="CodedHeight">Height as stored in the stream.</param>
/// <param name="Rotation">
/// Display rotation in whole degrees, from 0 to 359, from the display matrix or rotate tag: 90 or 270 where ffmpeg
/// turns the picture a quarter turn when it decodes it.
/// </param>
/// <param name="FrameRate">Average frame rate (frames over duration), in frames per second.</param>
/// <param name="NominalFrameRate">The stream's base rate (ffprobe's r_frame_rate).</param>
/// <param name="IsVariableFrameRate">True when the average and base rates disagree, i.e. frame intervals vary.</param>
/// <param name="Codec">Video codec name as ffprobe reports it (h264, vp9, rawvideo...).</param>
/// <param name="PixelFormat">Decoded pixel format (yuv420p...).</param>
/// <param name="ContainerFormat">Container format name(s) (mov,mp4,m4a,3gp,3g2,mj2...).</param>
/// <param name="HasAudio">Whether an audio stream is present.</param>
public sealed record VideoInfo(
    string Path,
    long FileSizeBytes,
    TimeSpan Duration,
    int CodedWidth,
    int CodedHeight,
    int Rotation,
    double FrameRate,
    double NominalFrameRate,
    bool IsVariableFrameRate,
    string Codec,
    string PixelFormat,
    string ContainerFormat,
    bool HasAudio)
{
    /// <summary>Whether the displayed picture is the coded one turned a quarter turn.</summary>
    public bool IsQuarterTurn => Rotation is 90 or 270;

    /// <summary>Width as displayed (and as ffmpeg decodes it, since it autorotates).</summary>
    public int Width => IsQuarterTurn ? CodedHeight : CodedWidth;

    /// <summary>Height as displayed (and as ffmpeg decodes it, since it autorotates).</summary>
    public int Height => IsQuarterTurn ? CodedWidth : CodedHeight;

    /// <summary>
    /// The stream's YCbCr matrix as ffprobe names it (bt709, smpte170m...), "unspecified" when the stream does not
    /// say, null when not probed (a hand-made VideoInfo). Decides how frames are turned into RGB.
    /// </summary>
    public string? ColorSpace { get; init; }

    /// <summary>The stream's colour range as ffprobe names it (tv, pc), "unspecified" when the stream does not say, null when not probed.</summary>
    public string? ColorRange { get; init; }

    /// <summary>
    /// The index in the file of the video stream the probe described, which is the stream the sampler decodes; null
    /// when not probed (a hand-made VideoInfo), which decodes the file's first video stream.
    /// </summary>
    public int? StreamIndex { get; init; }
}
