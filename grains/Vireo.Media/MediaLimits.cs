namespace Vireo.Media;

/// <summary>The configured limits, applied to a probe result before anything is decoded.</summary>
internal static class MediaLimits
{
    public static void Check(VideoInfo info, MediaOptions o)
    {
        if (info.FileSizeBytes > o.MaxFileSizeBytes)
            throw new MediaException(MediaErrorKind.FileTooLarge, info.Path, $"the file has {info.FileSizeBytes} bytes, the limit is {o.MaxFileSizeBytes}");
        if (info.Width <= 0 || info.Height <= 0)
            throw new MediaException(MediaErrorKind.DimensionsOutOfRange, info.Path, $"the video reports no usable size ({info.Width}x{info.Height})");
        if (info.Width > o.MaxWidth || info.Height > o.MaxHeight || (long)info.Width * info.Height > o.MaxPixels)
            throw new MediaException(MediaErrorKind.DimensionsOutOfRange, info.Path,
                $"{info.Width}x{info.Height} exceeds the limits ({o.MaxWidth}x{o.MaxHeight}, {o.MaxPixels} pixels)");
        // A stream written as it was recorded (a browser's MediaRecorder WebM, a live Matroska) declares no duration;
        // the decoder holds it to the limit instead, by the timestamps of its frames.
        if (info.Duration > o.MaxDuration)
            throw new MediaException(MediaErrorKind.DurationOutOfRange, info.Path, $"the video lasts {info.Duration}, the limit is {o.MaxDuration}");
    }
}
