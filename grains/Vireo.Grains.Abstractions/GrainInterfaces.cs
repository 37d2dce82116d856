namespace Vireo.Grains;

/// <summary>
/// One video's analysis, keyed by video id. It lives on a media silo, streams the video's frames through the GPU
/// workers, publishes results and checkpoints progress so that another silo can resume it.
/// </summary>
[Alias("Vireo.IVideoGrain")]
public interface IVideoGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the analysis once. Acceptance is all or nothing: when this returns <see cref="SubmitOutcome.Accepted"/>
    /// the job is saved and a reminder guards it; when it throws, nothing was kept and the caller may retry.
    /// A repeated submission of a known video changes nothing.
    /// </summary>
    [Alias("Submit")]
    Task<SubmitOutcome> Submit(VideoJob job);

    /// <summary>
    /// Restarts, on purpose, a video that failed (as a new attempt) or that is running but stalled, from its last
    /// checkpoint with its original source and options. A completed video is left as it is; an unknown one is
    /// submitted.
    /// </summary>
    [Alias("Retry")]
    Task<SubmitOutcome> Retry(VideoJob job);

    /// <summary>
    /// Records a new video whose upload was refused at the door (a source that cannot be read or is not allowed) as
    /// failed, with the reason, numbered as the grain numbers its statuses, so that a later retry is a new attempt
    /// that replaces the failure everywhere. A known video is left as it is.
    /// </summary>
    [Alias("Refuse")]
    Task<SubmitOutcome> Refuse(VideoJob job, string reason);
}

/// <summary>
/// The vision stage on one vision silo, keyed by that silo's address, so that every silo
/// of the role gets work as soon as it joins. It encodes a frame together with frames of other videos, then hands
/// the visual tokens straight to a language worker and returns the whole analysis.
/// </summary>
[Alias("Vireo.IVisionWorker")]
public interface IVisionWorker : IGrainWithStringKey
{
    [Alias("Analyze")]
    Task<FrameAnalysis> Analyze(FrameRequest request, CancellationToken cancellationToken = default);
}

/// <summary>The language stage on one language silo, keyed like <see cref="IVisionWorker"/>; batched and bounded the same way.</summary>
[Alias("Vireo.ILanguageWorker")]
public interface ILanguageWorker : IGrainWithStringKey
{
    [Alias("Generate")]
    Task<LanguageResult> Generate(LanguageRequest request, CancellationToken cancellationToken = default);
}
