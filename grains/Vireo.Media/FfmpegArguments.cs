using System.Globalization;

namespace Vireo.Media;

/// <summary>Builds ffmpeg command lines; one place for the filter graph that the log parser relies on.</summary>
internal static class FfmpegArguments
{
    private static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The select expression: first frame, fixed-rate grid, scene score, keyframe; null keeps every frame.</summary>
    public static string? SelectExpression(SamplingPolicy policy)
    {
        if (policy.KeepsEveryFrame) return null;
        // Commas are escaped for the filter graph parser. Every term is 0 or 1, never NaN (prev_t is NaN on the
        // first frame, and comparisons with NaN are 0), so the sum is a plain count of reasons.
        var terms = new List<string> { @"eq(n\,0)" };
        if (policy.FramesPerSecond is { } fps)
            terms.Add($@"gt(floor(t*{Num(fps)}+1e-6)\,floor(prev_t*{Num(fps)}+1e-6))");
        if (policy.SceneThreshold is { } threshold)
            terms.Add($@"gt(scene\,{Num(threshold)})");
        if (policy.Keyframes)
            terms.Add("key");
        return string.Join('+', terms);
    }

    /// <summary>
    /// Scale (and pad) to the output size in YUV 4:2:0; the RGB conversion comes after, at the output size.
    /// Measured on the 720p benchmark clip: letting one swscale pass scale and convert to rgb24 at once costs
    /// about as much CPU again as decoding (swscale's generic path), whereas scaling in YUV and converting the
    /// small picture takes swscale's SIMD unscaled yuv2rgb path and costs a few percent.
    /// </summary>
    public static string ScaleFilter(VideoInfo info, FrameSize size)
    {
        var (w, h) = size.OutputFor(info.Width, info.Height);
        if (size.Mode != ResizeMode.Pad) return $"scale={w}:{h},format=yuv420p";
        var (fw, fh) = (size with { Mode = ResizeMode.Fit }).OutputFor(info.Width, info.Height);
        return $"scale={fw}:{fh},format=yuv420p,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:black";
    }

    public static string FilterGraph(VideoInfo info, SamplingPolicy policy, FrameSize size, FilterNames names)
    {
        var filters = new List<string> { $"{names.Input}=checksum=0" };
        if (SelectExpression(policy) is { } expression)
        {
            filters.Add($"select='{expression}'");
            if (policy.SceneThreshold is not null)
                filters.Add($"{names.Scene}=mode=print:key=lavfi.scene_score");
        }
        // With no select filter every decoded frame is output: the input logger says all, and one log line per
        // frame less is measurable at the source rate.
        filters.Add(policy.KeepsEveryFrame ? "" : $"{names.Output}=checksum=0");
        filters.Add(ScaleFilter(info, size));
        return string.Join(',', filters.Where(f => f.Length > 0));
    }

    /// <summary>
    /// Whether ffmpeg hands us limited-range yuv420p for <see cref="YuvToRgb"/> (and with which matrix), or RGB24
    /// it converted itself (null). YUV is half the bytes through the pipe and spares ffmpeg its rgb pass; it is
    /// taken only where our conversion is the one ffmpeg would make: a limited-range (or unspecified) source whose
    /// matrix is BT.601, BT.709 or unspecified (swscale then uses BT.601). Anything else, or a VideoInfo that was
    /// not probed, keeps ffmpeg's own conversion. So does an odd output height: swscale then leaves its unscaled
    /// converter for the general scaler, which interpolates chroma. Without SSSE3 (e.g. on ARM) our conversion
    /// would be scalar and slower than ffmpeg's, so ffmpeg converts there too.
    /// </summary>
    public static YuvMatrix? YuvTransport(VideoInfo info, FrameSize size)
    {
        if (!YuvToRgb.IsAccelerated) return null;
        if (size.OutputFor(info.Width, info.Height).Height % 2 != 0) return null;
        if (info.ColorSpace is null || info.ColorRange is not ("tv" or "unspecified" or "unknown")) return null;
        if (info.PixelFormat.StartsWith("yuvj", StringComparison.Ordinal)) return null;
        return info.ColorSpace switch
        {
            "unspecified" or "unknown" or "reserved" or "bt470bg" or "smpte170m" => YuvMatrix.Bt601,
            "bt709" => YuvMatrix.Bt709,
            _ => null,
        };
    }

    public static IReadOnlyList<string> ForSampling(VideoInfo info, SamplingPolicy policy, FrameSize size, MediaOptions options, FilterNames names)
    {
        var args = new List<string>
        {
            "-hide_banner", "-nostdin", "-nostats",
            // Level tags let the parser tell errors from frame logs; "repeat" keeps identical lines apart.
            "-loglevel", "repeat+level+info",
        };
        if (options.DecoderThreads > 0) args.AddRange(["-threads", options.DecoderThreads.ToString(CultureInfo.InvariantCulture)]);
        args.AddRange(FfmpegBinaries.InputRestrictions());
        // The probe checked the first picture's size; a stream may change to a larger one later, which the decoder
        // then refuses to allocate (the log parser fails the run on that, and on any decoded picture past the limits).
        args.AddRange(["-max_pixels", Math.Min(options.MaxPixels, int.MaxValue).ToString(CultureInfo.InvariantCulture)]);
        args.AddRange([
            "-i", FfmpegBinaries.LocalInput(info.Path),
            // The stream the probe described, by its index; a VideoInfo made by hand gets the first video stream.
            "-map", info.StreamIndex is { } index ? $"0:{index.ToString(CultureInfo.InvariantCulture)}" : "0:v:0",
            "-an", "-sn", "-dn",
            // The output carries no metadata or chapters, so that ffmpeg's description of it, printed once decoding
            // has begun, holds no text of the file's.
            "-map_metadata", "-1", "-map_chapters", "-1",
            "-vf", FilterGraph(info, policy, size, names),
            // rawvideo would otherwise get constant-rate sync, which duplicates and drops frames.
            "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", YuvTransport(info, size) is null ? "rgb24" : "yuv420p", "pipe:1",
        ]);
        return args;
    }
}
