using System.Text.RegularExpressions;

namespace Vireo.Media;

/// <summary>Where the binaries are, from <see cref="MediaOptions.BinaryFolder"/>.</summary>
internal static class FfmpegBinaries
{
    public static string FfmpegPath(MediaOptions options) => Resolve(options, "ffmpeg");

    public static string FfprobePath(MediaOptions options) => Resolve(options, "ffprobe");

    /// <summary>
    /// An input argument that ffmpeg can only read as a local file: "file:" keeps a name such as "concat:a|b" or
    /// "http://..." from being taken as a protocol.
    /// </summary>
    public static string LocalInput(string fullPath) => "file:" + fullPath;

    /// <summary>
    /// The demuxers Vireo reads: video containers that hold their streams themselves. Playlists and other
    /// indirections (hls, dash, concat, image sequences, ffmetadata, tee...) would make ffmpeg open files, or URLs,
    /// that a playlist inside the media root names, wherever they are, so they are left out. yuv4mpegpipe is raw
    /// pictures behind a one-line header. ffmpeg matches a demuxer by any of its names ("mov,mp4,m4a,...").
    /// </summary>
    public const string ReadableFormats = "mov,mp4,matroska,webm,avi,mpegts,mpeg,flv,ogg,asf,mxf,nut,ivf,yuv4mpegpipe";

    /// <summary>
    /// Options that go before an input, for ffmpeg and ffprobe alike: only the file protocol, and only
    /// <see cref="ReadableFormats"/>. ffmpeg refuses anything else before reading a single packet.
    /// </summary>
    public static IEnumerable<string> InputRestrictions() =>
        ["-protocol_whitelist", "file", "-format_whitelist", ReadableFormats];

    private static string Resolve(MediaOptions options, string name)
    {
        if (!string.IsNullOrWhiteSpace(options.BinaryFolder)) return Path.Combine(options.BinaryFolder, name);
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return name;
    }
}

/// <summary>Maps ffmpeg's error text to an error kind.</summary>
internal static partial class FfmpegErrors
{
    /// <summary>The Matroska demuxer's words for a file cut in the middle of an element.</summary>
    public const string EndedPrematurely = "ended prematurely";

    /// <summary>The decoder's words for a picture it will not allocate past -max_pixels.</summary>
    public const string MaxPixelRefusal = "exceeds specified max pixel count";

    public static MediaErrorKind? Classify(string errorText)
    {
        bool Has(string s) => errorText.Contains(s, StringComparison.OrdinalIgnoreCase);
        if (Refusal(errorText) is not null) return MediaErrorKind.NotAVideo;
        if (Has("moov atom not found") || Has("partial file") || Has("end of file") || Has(EndedPrematurely) || Has("truncat"))
            return MediaErrorKind.Truncated;
        if (Has("Picture size") && (Has("is invalid") || Has(MaxPixelRefusal)) || Has("dimensions not set") || Has("Invalid image size"))
            return MediaErrorKind.DimensionsOutOfRange;
        if (Has("Invalid data found when processing input") || Has("Unknown input format") || Has("could not find codec parameters"))
            return MediaErrorKind.NotAVideo;
        if (Has("No such file or directory")) return MediaErrorKind.NotFound;
        return null;
    }

    /// <summary>Why ffmpeg refused an input by <see cref="FfmpegBinaries.InputRestrictions"/>, or null if it did not.</summary>
    public static string? Refusal(string errorText)
    {
        foreach (var line in errorText.Split('\n'))
        {
            if (line.Contains("Format not on whitelist", StringComparison.Ordinal))
                return $"it is in the {ComponentName(line) ?? "unknown"} format, which Vireo does not read: it reads video containers, not playlists or other files that name further files";
            if (line.Contains("not on whitelist", StringComparison.Ordinal))
                return $"it refers to something other than a local file ({ContextAddress().Replace(line.Trim(), "")}), which Vireo does not read";
        }
        return null;
    }

    // ffmpeg prefixes a component's log lines with "[name @ 0x...]".
    private static string? ComponentName(string line)
    {
        var open = line.IndexOf('[', StringComparison.Ordinal);
        var at = line.IndexOf(" @ ", StringComparison.Ordinal);
        return open >= 0 && at > open ? line[(open + 1)..at] : null;
    }

    /// <summary>The reason to give for a failure: a refusal in plain words, else the most telling lines.</summary>
    public static string Describe(string errorText) => Refusal(errorText) ?? Summary(errorText);

    // "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d1e8c3a2c0] ...": the address says where the component sat in ffmpeg's memory,
    // nothing a reader of the reason can use.
    [GeneratedRegex(@" @ 0x[0-9a-fA-F]+(?=\])")]
    private static partial Regex ContextAddress();

    /// <summary>The most telling lines of an error text, short enough for a message.</summary>
    public static string Summary(string errorText)
    {
        var lines = errorText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("ffprobe exited", StringComparison.Ordinal))
            .Select(l => ContextAddress().Replace(l, ""))
            .Distinct()
            .TakeLast(3);
        var summary = string.Join(" | ", lines);
        return summary.Length > 400 ? summary[..400] + "..." : summary;
    }
}
