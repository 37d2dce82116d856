using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using Vireo.Grains.Workers;
using Vireo.Media;

namespace Vireo.Grains;

/// <summary>How a silo batches model work (section "Workers").</summary>
public sealed class WorkerOptions
{
    public const string Section = "Workers";

    /// <summary>Directory holding model.safetensors and config.json.</summary>
    [Required]
    public string ModelPath { get; set; } = "";

    /// <summary>"auto" (CUDA when present), "cpu" or "cuda[:N]".</summary>
    [Required]
    public string Device { get; set; } = "auto";

    [Range(1, 256)] public int VisionMaxBatch { get; set; } = 8;
    [Range(0, 10_000)] public int VisionMaxWaitMs { get; set; } = 15;
    [Range(1, 4096)] public int VisionQueue { get; set; } = 32;
    [Range(1, 256)] public int LanguageMaxBatch { get; set; } = 8;
    [Range(0, 10_000)] public int LanguageMaxWaitMs { get; set; } = 15;
    [Range(1, 4096)] public int LanguageQueue { get; set; } = 32;

    /// <summary>Torch CPU threads for this process; 0 keeps torch's default.</summary>
    [Range(0, 256)] public int CpuThreads { get; set; }

    public BatchingLimits VisionLimits => new(VisionMaxBatch, TimeSpan.FromMilliseconds(VisionMaxWaitMs), VisionQueue);
    public BatchingLimits LanguageLimits => new(LanguageMaxBatch, TimeSpan.FromMilliseconds(LanguageMaxWaitMs), LanguageQueue);
}

/// <summary>How videos are taken in and processed (section "Pipeline").</summary>
public sealed class PipelineOptions : IValidatableObject
{
    public const string Section = "Pipeline";

    /// <summary>Uploads name files under this folder; nothing outside it is ever read.</summary>
    [Required]
    public string MediaRoot { get; set; } = "";

    /// <summary>Whether a source may be an http(s) URL, downloaded into <see cref="DownloadFolder"/>.</summary>
    public bool AllowUrls { get; set; }

    /// <summary>Whether URLs may point at loopback or private addresses (off outside development).</summary>
    public bool AllowPrivateUrlHosts { get; set; }

    public string? DownloadFolder { get; set; }

    /// <summary>Largest download accepted, in bytes.</summary>
    [Range(1, long.MaxValue)]
    public long MaxDownloadBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    [Range(1, 3600)]
    public int DownloadTimeoutSeconds { get; set; } = 300;

    /// <summary>Decoded frames are scaled to fit this many pixels on their long side before tiling.</summary>
    [Range(64, 8192)]
    public int FrameLongSide { get; set; } = 896;

    [Range(0.01, 60)] public double DefaultFps { get; set; } = 2;
    [Range(1, 100_000)] public int DefaultMaxFrames { get; set; } = 2000;
    [Range(1, 100_000)] public int MaxFramesLimit { get; set; } = 20_000;
    [Range(1, 40)] public int DefaultMinTiles { get; set; } = 1;
    [Range(1, 40)] public int DefaultMaxTiles { get; set; } = 4;

    /// <summary>Frames of one video inside the model at once; bounds memory and keeps both stages busy.</summary>
    [Range(1, 256)] public int FramesInFlight { get; set; } = 6;

    /// <summary>How often an unfinished video is checked for a silo that died under it.</summary>
    [Range(1, 3600)] public int ResumeCheckSeconds { get; set; } = 60;

    /// <summary>Attempts at a model call before the video fails.</summary>
    [Range(1, 100)] public int ModelCallAttempts { get; set; } = 5;

    /// <summary>
    /// A run that neither publishes a frame nor decodes one for this long is stalled: it is stopped (its ffmpeg
    /// killed) and started again from its last checkpoint. It must exceed the download time-out, since a download does
    /// neither.
    /// </summary>
    [Range(1, 86_400)] public int StallSeconds { get; set; } = 600;

    /// <summary>
    /// Runs interrupted in a row (state store, broker or cluster unreachable) before the video fails. Each is
    /// restarted from the last checkpoint after a growing delay; a frame published meanwhile resets the count.
    /// </summary>
    [Range(1, 1000)] public int MaxInterruptions { get; set; } = 8;

    /// <summary>Attempts at a state write before the run counts as interrupted.</summary>
    [Range(1, 100)] public int StateWriteAttempts { get; set; } = 4;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (DefaultMinTiles > DefaultMaxTiles)
            yield return new ValidationResult("DefaultMinTiles must not exceed DefaultMaxTiles.");
        if (AllowUrls && string.IsNullOrWhiteSpace(DownloadFolder))
            yield return new ValidationResult("AllowUrls needs a DownloadFolder.");
        if (AllowUrls && StallSeconds <= DownloadTimeoutSeconds)
            yield return new ValidationResult("StallSeconds must exceed DownloadTimeoutSeconds: a download publishes nothing while it runs.");
    }
}

/// <summary>
/// On a media silo, frames are decoded at Pipeline:FrameLongSide, and the decoder refuses any side past
/// Media:MaxOutputSide: a pair of settings on which every video would fail is refused when the silo starts.
/// </summary>
public sealed class FramesWithinDecoderLimit(IOptions<MediaOptions> media) : IValidateOptions<PipelineOptions>
{
    public ValidateOptionsResult Validate(string? name, PipelineOptions options) =>
        options.FrameLongSide <= media.Value.MaxOutputSide
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Pipeline:FrameLongSide ({options.FrameLongSide}) must not exceed Media:MaxOutputSide ({media.Value.MaxOutputSide}): the decoder refuses larger frames, so every video would fail.");
}
