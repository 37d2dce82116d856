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
internal static class FfmpegErrors
{
    public static MediaErrorKind? Classify(string errorText)
    {
        bool Has(string s) => errorText.Contains(s, StringComparison.OrdinalIgnoreCase);
        if (Has("moov atom not found") || Has("partial file") || Has("end of file") || Has("truncat"))
            return MediaErrorKind.Truncated;
        if (Has("Picture size") && Has("is invalid") || Has("dimensions not set") || Has("Invalid image size"))
            return MediaErrorKind.DimensionsOutOfRange;
        if (Has("Invalid data found when processing input") || Has("Unknown input format") || Has("could not find codec parameters"))
            return MediaErrorKind.NotAVideo;
        if (Has("No such file or directory")) return MediaErrorKind.NotFound;
        return null;
    }

    /// <summary>The most telling lines of an error text, short enough for a message.</summary>
    public static string Summary(string errorText)
    {
        var lines = errorText.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.StartsWith("ffprobe exited", StringComparison.Ordinal))
            .Distinct()
            .TakeLast(3);
        var summary = string.Join(" | ", lines);
        return summary.Length > 400 ? summary[..400] + "..." : summary;
    }
}
