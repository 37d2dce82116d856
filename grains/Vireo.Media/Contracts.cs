namespace Vireo.Media;

/// <summary>Reads what a video is (size, length, rate, rotation) and refuses what exceeds the configured limits.</summary>
public interface IMediaProbe
{
    /// <summary>
    /// Probes <paramref name="path"/> with ffprobe (bounded by <see cref="MediaOptions.ProbeTimeout"/>).
    /// Throws <see cref="MediaException"/> for a missing, empty, unreadable or out-of-limits file.
    /// </summary>
    Task<VideoInfo> ProbeAsync(string path, CancellationToken cancellationToken = default);
}

/// <summary>Decodes a video once and streams the frames a <see cref="SamplingPolicy"/> keeps.</summary>
public interface IFrameSampler
{
    /// <summary>
    /// Probes (refusing out-of-limits input before decoding), then decodes in one ffmpeg pass and yields the
    /// kept frames in presentation order as RGB24 at <paramref name="size"/>. At most
    /// <see cref="MediaOptions.FrameQueueCapacity"/> frames are buffered ahead of the consumer. Cancelling,
    /// or stopping the enumeration early, kills ffmpeg. Errors surface as <see cref="MediaException"/>;
    /// a truncated file yields the frames that could be decoded, then throws <see cref="MediaErrorKind.Truncated"/>.
    /// </summary>
    IAsyncEnumerable<SampledFrame> SampleAsync(
        string path,
        SamplingPolicy policy,
        FrameSize size,
        IProgress<DecodeProgress>? progress = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The same for a video already probed (and so already checked against the limits) by
    /// <see cref="IMediaProbe.ProbeAsync"/>: the caller that records the probe result does not pay for a second probe.
    /// </summary>
    IAsyncEnumerable<SampledFrame> SampleAsync(
        VideoInfo video,
        SamplingPolicy policy,
        FrameSize size,
        IProgress<DecodeProgress>? progress = null,
        CancellationToken cancellationToken = default);
}
