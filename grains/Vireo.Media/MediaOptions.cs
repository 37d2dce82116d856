using System.ComponentModel.DataAnnotations;

namespace Vireo.Media;

/// <summary>
/// Limits and process settings of the media stage, bound from the "Media" configuration section and
/// validated at start. Every limit is checked on the probe result, before anything is decoded.
/// </summary>
public sealed class MediaOptions
{
    /// <summary>Configuration section the options are bound from.</summary>
    public const string SectionName = "Media";

    /// <summary>Folder holding the ffmpeg and ffprobe binaries; empty means "look on PATH".</summary>
    public string BinaryFolder { get; set; } = "";

    /// <summary>Largest displayed width (after rotation) accepted.</summary>
    [Range(16, 65536)]
    public int MaxWidth { get; set; } = 7680;

    /// <summary>Largest displayed height (after rotation) accepted.</summary>
    [Range(16, 65536)]
    public int MaxHeight { get; set; } = 7680;

    /// <summary>Largest pixel count per frame accepted (8K UHD by default).</summary>
    [Range(256, long.MaxValue)]
    public long MaxPixels { get; set; } = 7680L * 4320;

    /// <summary>Longest video accepted.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Largest file accepted, in bytes.</summary>
    [Range(1, long.MaxValue)]
    public long MaxFileSizeBytes { get; set; } = 8L * 1024 * 1024 * 1024;

    /// <summary>How long one ffprobe call may run.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one whole decode may run.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan DecodeTimeout { get; set; } = TimeSpan.FromHours(2);

    /// <summary>
    /// How long ffmpeg may go without producing anything (a frame or a log line) while we wait on it.
    /// Time spent waiting for a slow consumer does not count.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Decoded frames buffered ahead of the consumer; bounds memory at about this many frames.</summary>
    [Range(1, 64)]
    public int FrameQueueCapacity { get; set; } = 4;

    /// <summary>ffmpeg decoder threads; 0 lets ffmpeg choose.</summary>
    [Range(0, 64)]
    public int DecoderThreads { get; set; }

    /// <summary>Largest output frame side a caller may ask for.</summary>
    [Range(16, 8192)]
    public int MaxOutputSide { get; set; } = 4096;
}
